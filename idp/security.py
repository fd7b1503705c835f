"""Hashing, random secrets and constant-time comparison: the one home of such crypto.

The signing keyring lives in ``idp.oidc.keys``. What needs the app's secret key or its
password hasher reads them from the app bound while an app context is pushed (``bind``, by the
app factory's context), never from Flask itself: the domain uses these without reaching Flask.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from idp import clock
from idp.config import AuthSettings

# Every HTML page's policy: nothing from elsewhere, no inline script, never framed, forms sent
# only here (content_security_policy adds what a page's forms lead to).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

# Anything else (a CSV download, JSON), should a browser open it as a document: no content,
# no script, never framed.
DOCUMENT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$")  # a host name as DNS has it, lower case


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, rebuilt from its checked parts (a
    host name, or an IP address), or None: nothing else of the URL reaches a header."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not HOST.match(host):
            return None
    else:
        host = f"[{address}]" if address.version == 6 else str(address)
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def content_security_policy(form_targets: Iterable[str] = (), frames: Iterable[str] = ()) -> str:
    """The page policy, its forms also allowed to lead to the origins of ``form_targets``
    (browsers apply ``form-action`` to the redirects that follow a post too: the relying party
    a sign-in returns to, a connected-account provider) and ``frames`` framed (front-channel
    logout). A URL whose origin cannot be read exactly is left out."""
    policy = CONTENT_SECURITY_POLICY
    targets = sorted({o for o in map(origin, form_targets) if o})
    if targets:
        policy = policy.replace("form-action 'self'", f"form-action 'self' {' '.join(targets)}")
    framed = sorted({o for o in map(origin, frames) if o})
    if framed:
        policy += f"; frame-src {' '.join(framed)}"
    return policy


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


@dataclass(frozen=True)
class AppKeys:
    """Where the running app keeps what the functions below need: its config (``SECRET_KEY``)
    and its extensions (the password hasher, ``idp.passwords``), read when used."""

    config: Mapping[str, Any]
    extensions: Mapping[str, Any]


_bound: ContextVar[AppKeys] = ContextVar("idp.security.app_keys")


def bind(keys: AppKeys) -> Token[AppKeys]:
    """Use ``keys`` until ``unbind`` (the app context does both as it is pushed and popped)."""
    return _bound.set(keys)


def unbind(token: Token[AppKeys]) -> None:
    _bound.reset(token)


def _app_keys() -> AppKeys:
    try:
        return _bound.get()
    except LookupError:
        raise RuntimeError("Working outside of an app context: no secret key.") from None


def _secret_key() -> str:
    return str(_app_keys().config["SECRET_KEY"])


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a low-entropy secret (a 6-digit code, a recovery code) under the app's
    secret key: a stolen database alone does not let anyone test guesses offline."""
    key = _secret_key().encode()
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


# No look-alike characters (0/O, 1/l/I): people type these from an email.
READABLE = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
READABLE_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def readable_secret(length: int, alphabet: str = READABLE) -> str:
    """A random string people can copy by hand (temporary passwords, recovery codes)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


class _ClockSigner(TimestampSigner):
    """Timestamps from idp.clock, the one source of time."""

    def get_timestamp(self) -> int:
        return clock.timestamp()


def serializer(purpose: str) -> URLSafeTimedSerializer:
    """itsdangerous signer for links and cookies, with a salt per purpose so a value signed
    for one purpose is refused for every other."""
    return URLSafeTimedSerializer(_secret_key(), salt=f"idp.{purpose}", signer=_ClockSigner)


def fernet(purpose: str) -> Fernet:
    """Symmetric encryption for secrets we must read back (TOTP seeds), keyed from the app's
    secret key by HKDF with a label per purpose."""
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=f"idp.{purpose}".encode()).derive(
        _secret_key().encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


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
    passwords: Passwords = _app_keys().extensions["idp.passwords"]
    return passwords
