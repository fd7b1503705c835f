"""Hashing, random secrets and constant-time comparison: the one home of such crypto.

The signing keyring lives in ``idp.oidc.keys``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

from idp.config import AuthSettings


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random string carrying ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def token_hash(value: str) -> str:
    """Digest under which a high-entropy secret (token, code, client secret) is stored.

    These values carry 256 bits of entropy, so a fast hash is enough: nothing can be
    guessed from the digest, and lookups by digest stay a single indexed query.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_subject() -> str:
    """A stable, opaque subject identifier; never derived from the email address."""
    return "u_" + secrets.token_urlsafe(16)


@dataclass
class Passwords:
    """argon2id hashing with the configured cost, plus a dummy hash for unknown accounts."""

    hasher: PasswordHasher
    dummy_hash: str

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> Passwords:
        hasher = PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost=auth.argon2_memory_cost,
            parallelism=auth.argon2_parallelism,
        )
        return cls(hasher, hasher.hash(random_token()))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Check a password; with no stored hash, spend the same time and fail."""
        try:
            return self.hasher.verify(stored or self.dummy_hash, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def passwords() -> Passwords:
    return current_app.extensions["idp.passwords"]
