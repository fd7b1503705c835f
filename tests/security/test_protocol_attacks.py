"""JWTs we accept from outside are verified with our keys and our algorithms only (RFC 8725
§2.1, §3.1; RFC 9700 §4.x): an ``id_token_hint`` with ``alg: none``, one MACed with our public
key (the RS256/HS256 confusion) or one signed by a stranger's key with our ``kid`` cannot sign
anybody out silently. The rest of the protocol attacks are tested where the protocol is
(tests/oidc/); the README's Security table maps each to its test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.oidc.test_end_session import UNSIGNED_TOKEN
from tests.oidc_helpers import RelyingParty


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(rp, sub: str) -> dict:
    now = int(time.time())
    return {"iss": "http://localhost", "aud": rp.client_id, "sub": sub, "iat": now, "exp": now + 60}


@pytest.fixture
def rp(client, make):
    return RelyingParty(client, make.client())


@pytest.fixture
def teacher(make):
    return make.user("teacher@example.org", org=make.org("AA101"), roles=("sfa.teacher",))


@pytest.fixture
def signed_in(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    return rp.verify_id_token(tokens["id_token"])


def _still_signed_in(rp) -> bool:
    return "code" in rp.follow(rp.authorize(prompt="none")).params


def _forgeries(rp, claims: dict) -> dict[str, str]:
    jwks = rp.http.get("/jwks.json").get_json()
    published = jwks["keys"][0]
    header = {"alg": "HS256", "kid": published["kid"], "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    # The confusion attack: HMAC keyed with what everyone has, the public key.
    mac = hmac.new(json.dumps(published).encode(), signing_input.encode(), hashlib.sha256)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": UNSIGNED_TOKEN,
        "HS256 with the public key": f"{signing_input}.{_b64(mac.digest())}",
        "a stranger's key under our kid": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"kid": published["kid"]}
        ),
    }


def test_a_forged_id_token_hint_signs_nobody_out(rp, signed_in):
    for name, forged in _forgeries(rp, _claims(rp, signed_in["sub"])).items():
        response = rp.http.get(
            "/logout",
            query_string={
                "id_token_hint": forged,
                "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
            },
        )
        # Refused, or at most the page that asks the person to confirm: never a silent logout.
        assert response.status_code in (200, 400), name
        assert "Location" not in response.headers, name
        assert _still_signed_in(rp), name
