"""The signing keyring.

Private keys are PKCS#8 PEM files ``<keys_dir>/<kid>.pem`` (mode 0600, written atomically);
the ``signing_keys`` table holds each key's public JWK and its life (created, activated,
retired). Every instance reads that table again every ``oidc.keyring_refresh`` seconds, so a
rotation made by one instance (or by ``idp keys rotate``) is seen by all within that time.

Keys are imported once and cached: importing an RSA key costs ~100x a signature.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select

from idp import clock
from idp.domain import audit
from idp.extensions import db
from idp.models import SigningKey
from idp.security import random_token

log = logging.getLogger(__name__)

Key = RSAKey | ECKey
ALGORITHMS = ("RS256", "ES256")


class KeyringError(Exception):
    pass


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    alg: str
    key: Key


def generate_private_key(alg: str) -> Any:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyringError(f"unsupported algorithm {alg}")


def _import(pem: bytes, alg: str) -> Key:
    cls = RSAKey if alg == "RS256" else ECKey
    return cls.import_key(pem)


def public_jwk(key: Key, kid: str, alg: str) -> dict[str, Any]:
    jwk = key.as_dict(private=False)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def write_private_key(keys_dir: Path, kid: str, pem: bytes) -> Path:
    """Write ``<kid>.pem`` with mode 0600 via a temporary file and ``os.replace``."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    target = keys_dir / f"{kid}.pem"
    fd, tmp = tempfile.mkstemp(dir=keys_dir, prefix=".tmp-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class KeyRing:
    """Cached view of the signing keys for one app."""

    def __init__(self, keys_dir: Path, refresh_seconds: int):
        self.keys_dir = keys_dir
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._loaded_at = -1.0
        self._signing: dict[str, LoadedKey] = {}
        self._jwks: dict[str, Any] = {"keys": []}
        self._jwks_json = b'{"keys":[]}'
        self._keyset = KeySet([])
        self._private_cache: dict[str, Key] = {}

    def invalidate(self) -> None:
        self._loaded_at = -1.0

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.refresh_seconds:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < self.refresh_seconds:
                return
            self._reload()

    def _reload(self) -> None:
        rows = db.session.scalars(
            select(SigningKey).order_by(
                SigningKey.activated_at.desc(), SigningKey.created_at.desc()
            )
        ).all()
        signing: dict[str, LoadedKey] = {}
        verify: dict[str, Key] = {}
        for row in rows:
            key_cls = RSAKey if row.alg == "RS256" else ECKey
            verify[row.kid] = key_cls.import_key(row.public_jwk)
            if row.alg in signing:
                continue
            private = self._private(row)
            if private is None:
                continue
            if row.retired_at is not None:
                log.warning(
                    "signing with retired key %s: the current key's PEM is missing", row.kid
                )
            signing[row.alg] = LoadedKey(row.kid, row.alg, private)
        self._signing = signing
        self._keyset = KeySet(list(verify.values()))
        self._jwks = {"keys": [dict(r.public_jwk) for r in rows]}
        self._jwks_json = json.dumps(self._jwks, separators=(",", ":")).encode()
        self._loaded_at = time.monotonic()

    def _private(self, row: SigningKey) -> Key | None:
        cached = self._private_cache.get(row.kid)
        if cached is not None:
            return cached
        path = self.keys_dir / f"{row.kid}.pem"
        try:
            key = _import(path.read_bytes(), row.alg)
        except FileNotFoundError:
            log.error("private key file %s is missing", path)
            return None
        self._private_cache[row.kid] = key
        return key

    def version(self) -> float | None:
        """When the cached keys were loaded, while they are fresh; None once they are not."""
        loaded = self._loaded_at
        return loaded if time.monotonic() - loaded < self.refresh_seconds else None

    def signing_key(self, alg: str) -> LoadedKey:
        self._fresh()
        try:
            return self._signing[alg]
        except KeyError:
            raise KeyringError(f"no {alg} signing key: run `idp keys rotate --alg {alg}`") from None

    def has_signing_key(self, alg: str) -> bool:
        self._fresh()
        return alg in self._signing

    def signing_algorithms(self) -> list[str]:
        """The algorithms there is a signing key (with its private half) for, RS256 first."""
        self._fresh()
        return [alg for alg in ALGORITHMS if alg in self._signing]

    def keyset(self) -> KeySet:
        """The published public keys, for verifying tokens we signed."""
        self._fresh()
        return self._keyset

    def jwks(self) -> dict[str, Any]:
        self._fresh()
        return self._jwks

    def jwks_json(self) -> bytes:
        self._fresh()
        return self._jwks_json

    def algorithms(self) -> list[str]:
        self._fresh()
        return sorted({jwk["alg"] for jwk in self._jwks["keys"]})

    # Administration (CLI and tests) -------------------------------------------------

    def rotate(self, alg: str) -> SigningKey:
        """Create a key that starts signing now; retire the previous key of that algorithm.

        The retired key stays published in the JWKS until ``prune`` removes it.
        """
        private = generate_private_key(alg)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key = _import(pem, alg)
        kid = key.thumbprint()
        write_private_key(self.keys_dir, kid, pem)
        now = clock.now()
        for previous in db.session.scalars(
            select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
        ):
            previous.retired_at = now
        row = SigningKey(
            kid=kid, alg=alg, public_jwk=public_jwk(key, kid, alg), created_at=now, activated_at=now
        )
        db.session.add(row)
        audit.record("key.rotated", target_type="key", target_id=kid, alg=alg)
        db.session.commit()
        self.invalidate()
        return row

    def prune(self, retention: timedelta) -> list[str]:
        """Delete keys retired longer ago than ``retention`` (their last token has expired)."""
        cutoff = clock.now() - retention
        rows = db.session.scalars(
            select(SigningKey).where(
                SigningKey.retired_at.is_not(None), SigningKey.retired_at < cutoff
            )
        ).all()
        kids = [row.kid for row in rows]
        for row in rows:
            db.session.delete(row)
        if kids:
            audit.record("key.pruned", target_type="key", kids=kids)
        db.session.commit()
        for kid in kids:
            (self.keys_dir / f"{kid}.pem").unlink(missing_ok=True)
            self._private_cache.pop(kid, None)
        self.invalidate()
        return kids

    def rows(self) -> list[SigningKey]:
        return list(
            db.session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()
        )


def sign_for_client(client_id: str, claims: dict[str, Any], typ: str, ttl: int) -> str:
    """A JWT from this provider to one client (logout tokens, user-data requests): ``iss``,
    ``aud``, ``iat``, ``exp`` (``ttl`` seconds), a fresh ``jti`` and ``claims``, signed with
    the current key and typed ``typ`` (RFC 8725 §3.11), so it cannot pass for another kind."""
    settings = current_app.extensions["idp.settings"]
    signing = current_app.extensions["idp.keyring"].signing_key(settings.oidc.signing_alg)
    now = clock.timestamp()
    payload = {
        "iss": settings.oidc.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": random_token(16),
        **claims,
    }
    header = {"alg": signing.alg, "kid": signing.kid, "typ": typ}
    return jwt.encode(header, payload, signing.key, algorithms=[signing.alg])
