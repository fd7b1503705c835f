"""The benchmark's bare refresh grant does the work it claims, so its rate is a fair floor."""

from __future__ import annotations

import base64
import importlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.test import Client

from bench import bare_refresh


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "k1.pem").write_bytes(pem)
    tokens = bare_refresh.seed(tmp_path / "bare.sqlite3", 2)
    monkeypatch.setenv("BENCH_BARE_DB", str(tmp_path / "bare.sqlite3"))
    monkeypatch.setenv("BENCH_BARE_KEY", str(tmp_path / "k1.pem"))
    module = importlib.reload(bare_refresh)  # a worker's fresh connection and key
    yield Client(module.app), tokens, RSAKey.import_key(pem)
    conn = getattr(module._local, "conn", None)  # this thread's
    if conn is not None:
        conn.close()


def _refresh(client: Client, token: str, secret: str = bare_refresh.CLIENT_SECRET):
    basic = base64.b64encode(f"{bare_refresh.CLIENT_ID}:{secret}".encode()).decode()
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Authorization": f"Basic {basic}"},
    )


def test_a_refresh_rotates_and_answers_a_signed_id_token(bare):
    client, tokens, key = bare
    answer = _refresh(client, tokens[0])
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["refresh_token"] != tokens[0] and body["access_token"]
    id_token = jwt.decode(body["id_token"], key, algorithms=["RS256"])
    assert id_token.header["kid"] == "k1"
    assert id_token.claims["sub"] == bare_refresh.SUBJECT
    assert id_token.claims["aud"] == bare_refresh.CLIENT_ID
    assert id_token.claims["email"] == "bench@example.org"
    # The successor works once; the rotated token no longer does.
    assert _refresh(client, body["refresh_token"]).status_code == 200
    assert _refresh(client, tokens[0]).status_code == 400


def test_a_wrong_secret_is_refused_and_spends_nothing(bare):
    client, tokens, _ = bare
    assert _refresh(client, tokens[1], secret="wrong").status_code == 401
    assert _refresh(client, tokens[1]).status_code == 200
