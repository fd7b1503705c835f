"""The least work a refresh_token grant can do, as a bare WSGI app: the "bare-refresh rate".

No Flask, Authlib or SQLAlchemy: the standard library's sqlite3 and one joserfc signature.
Each request authenticates the client (HTTP Basic, SHA-256 of the secret compared in constant
time), finds the refresh token by its hash (this client's, not revoked, not expired), reads
the person for the ID token, revokes the token and stores its successor in one transaction,
signs an RS256 ID token with the provider's own key (imported once) and answers the token
response. That is what the provider's grant must do too (it runs five statements and one
signature), so whatever the provider costs above this app is its frameworks and its own
bookkeeping (metrics, logs, hooks), and this app's rate is what gunicorn, SQLite and the
signature leave on this machine.

``GET`` answers ``{}`` (the bench waits for it at start-up). Replaying a rotated token answers
400 (the chain is broken), so the load generator's refresh chains work unchanged. ``seed``
builds the database; the app reads ``BENCH_BARE_DB`` and ``BENCH_BARE_KEY`` (a PEM private
key) from the environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "bare-client"
CLIENT_SECRET = "bare-secret-0123456789"
SUBJECT = "u_8IfvIhMjIUTr_Ozh-sWh7Q"
ISSUER = "http://127.0.0.1"
LIFETIME = 3600

_SCHEMA = """
CREATE TABLE clients (id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL);
CREATE TABLE users (subject TEXT PRIMARY KEY, email TEXT NOT NULL, given_name TEXT,
                    family_name TEXT);
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (id),
    subject TEXT NOT NULL REFERENCES users (subject),
    scope TEXT NOT NULL,
    family TEXT NOT NULL,
    access_hash BLOB NOT NULL UNIQUE,
    refresh_hash BLOB NOT NULL UNIQUE,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
"""


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def seed(path: Path, chains: int) -> list[str]:
    """Create the database at ``path`` with one client, one person and ``chains`` refresh
    tokens; return the tokens."""
    tokens = [secrets.token_urlsafe(32) for _ in range(chains)]
    now = int(time.time())
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA)
        conn.execute("INSERT INTO clients VALUES (?, ?)", (CLIENT_ID, _digest(CLIENT_SECRET)))
        conn.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            (SUBJECT, "bench@example.org", "Bench", "Person"),
        )
        conn.executemany(
            "INSERT INTO tokens (client_id, subject, scope, family, access_hash, refresh_hash, "
            "issued_at, expires_at) VALUES (?, ?, 'openid email profile', ?, ?, ?, ?, ?)",
            [
                (
                    CLIENT_ID,
                    SUBJECT,
                    secrets.token_hex(8),
                    _digest(secrets.token_urlsafe(32)),
                    _digest(token),
                    now,
                    now + 86400,
                )
                for token in tokens
            ],
        )
    conn.close()
    return tokens


_key: RSAKey | None = None
_kid = ""
_local = threading.local()


def _connection() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:  # one per worker thread, opened after the fork
        conn = sqlite3.connect(os.environ["BENCH_BARE_DB"], isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _local.conn = conn
    return conn


def _signing_key() -> tuple[RSAKey, str]:
    global _key, _kid
    if _key is None:
        path = Path(os.environ["BENCH_BARE_KEY"])
        _key, _kid = RSAKey.import_key(path.read_bytes()), path.stem
    return _key, _kid


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _answer(start: StartResponse, status: str, document: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(document, separators=(",", ":")).encode()
    start(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def _client(environ: dict[str, Any], cur: sqlite3.Cursor) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None
    client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    row = cur.execute("SELECT secret_hash FROM clients WHERE id = ?", (client_id,)).fetchone()
    if row is None or not hmac.compare_digest(_digest(secret), row[0]):
        return None
    return client_id


def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] == "GET":  # the bench's readiness check
        return _answer(start, "200 OK", {})
    size = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(size).decode())
    if form.get("grant_type") != ["refresh_token"] or len(form.get("refresh_token", ())) != 1:
        return _answer(start, "400 Bad Request", {"error": "invalid_request"})
    cur = _connection().cursor()
    now = int(time.time())
    cur.execute("BEGIN IMMEDIATE")
    try:
        client_id = _client(environ, cur)
        if client_id is None:
            return _answer(start, "401 Unauthorized", {"error": "invalid_client"})
        token = cur.execute(
            "SELECT id, subject, scope, family FROM tokens WHERE refresh_hash = ? AND "
            "client_id = ? AND revoked_at IS NULL AND expires_at > ?",
            (_digest(form["refresh_token"][0]), client_id, now),
        ).fetchone()
        if token is None:
            return _answer(start, "400 Bad Request", {"error": "invalid_grant"})
        token_id, subject, scope, family = token
        person = cur.execute(
            "SELECT email, given_name, family_name FROM users WHERE subject = ?", (subject,)
        ).fetchone()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        cur.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
        cur.execute(
            "INSERT INTO tokens (client_id, subject, scope, family, access_hash, refresh_hash, "
            "issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                client_id,
                subject,
                scope,
                family,
                _digest(access),
                _digest(refresh),
                now,
                now + 86400,
            ),
        )
        cur.execute("COMMIT")
    finally:
        if _connection().in_transaction:
            cur.execute("ROLLBACK")
    key, kid = _signing_key()
    at_hash = base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()[:16])
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": client_id,
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "amr": ["pwd"],
        "at_hash": at_hash.rstrip(b"=").decode(),
        "email": person[0],
        "given_name": person[1],
        "family_name": person[2],
    }
    id_token = jwt.encode({"alg": "RS256", "kid": kid}, claims, key)
    return _answer(
        start,
        "200 OK",
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": LIFETIME,
            "refresh_token": refresh,
            "id_token": id_token,
            "scope": scope,
        },
    )
