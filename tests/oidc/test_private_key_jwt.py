"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the client proves
itself with a JWT signed by a key it registered; assertions are single-use and checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from idp.domain import registration
from idp.extensions import db
from tests.oidc_helpers import RelyingParty

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _public_jwk(private_key, kid: str) -> dict:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
        jwk["alg"] = "ES256"
    return {**jwk, "kid": kid, "use": "sig"}


def _assertion(client_id: str, key, alg: str = "RS256", **changes) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": "http://localhost/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
        **changes,
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(client_id: str, key) -> str:
    """The classic confusion: HMAC keyed with the public key's PEM, which anyone has."""
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    claims = _b64(
        json.dumps(
            {
                "iss": client_id,
                "sub": client_id,
                "jti": "hs",
                "aud": "http://localhost/token",
                "exp": int(time.time()) + 60,
            }
        ).encode()
    )
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signature = hmac.new(pem, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64(signature)}"


@pytest.fixture
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rp(client, make, key):
    registered = make.client(auth_method="private_key_jwt")
    registered.model.extra_metadata = {"jwks": {"keys": [_public_jwk(key, "k1")]}}
    db.session.commit()
    assert registered.secret is None  # no secret for a key-authenticated client
    party = RelyingParty(client, registered)
    party.assertion = lambda: _assertion(party.client_id, key)
    return party


def test_a_signed_assertion_authenticates_the_client(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    assert rp.verify_id_token(tokens["id_token"])["aud"] == rp.client_id
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()


@pytest.mark.parametrize(
    "audience", ["http://localhost", "http://localhost/token", ["http://localhost/token"]]
)
def test_the_issuer_or_the_token_endpoint_is_the_audience(rp, key, teacher, audience):
    code = rp.sign_in("teacher@example.org").code
    rp.assertion = lambda: _assertion(rp.client_id, key, aud=audience)
    assert rp.exchange(code).status_code == 200


@pytest.mark.parametrize(
    "forge",
    [
        lambda cid, key: _assertion(
            cid, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ),
        lambda cid, key: _assertion(cid, key, aud="https://someone-else.example.org/token"),
        lambda cid, key: _assertion(
            cid, key, aud=["http://localhost/token", "https://someone-else.example.org/token"]
        ),
        lambda cid, key: _assertion(cid, key, aud=[]),
        lambda cid, key: _assertion(cid, key, exp=int(time.time()) - 120),
        lambda cid, key: _assertion(cid, key, exp=int(time.time()) + 3600),
        lambda cid, key: _assertion(cid, key, iss="another-client"),
        lambda cid, key: _assertion(cid, key, jti=None),
        lambda cid, key: jwt.encode(
            {
                "iss": cid,
                "sub": cid,
                "aud": "http://localhost/token",
                "exp": int(time.time()) + 60,
                "jti": "x",
            },
            None,
            algorithm="none",
        ),
        lambda cid, key: _hs256_with_public_key(cid, key),
    ],
    ids=[
        "other key",
        "wrong audience",
        "an audience list naming another server too",
        "an empty audience list",
        "expired",
        "lives too long",
        "iss is not sub",
        "no jti",
        "alg none",
        "HS256 with the public key",
    ],
)
def test_a_bad_assertion_is_refused(rp, key, teacher, forge):
    code = rp.sign_in("teacher@example.org").code
    rp.assertion = lambda: forge(rp.client_id, key)
    response = rp.exchange(code)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_an_assertion_works_once(rp, key, teacher):
    assertion = _assertion(rp.client_id, key)
    rp.assertion = lambda: assertion
    assert rp.exchange(rp.sign_in("teacher@example.org").code).status_code == 200
    replay = rp.exchange(rp.sign_in("teacher@example.org").code)
    assert replay.status_code == 401 and replay.get_json()["error"] == "invalid_client"


def test_the_client_cannot_fall_back_to_a_secret(rp, teacher):
    code = rp.sign_in("teacher@example.org").code
    response = rp.exchange(code, auth="post")
    assert response.status_code == 401


def test_dynamic_registration_takes_a_public_key_set(client, make):
    token, _ = registration.issue_initial_token(
        ttl_seconds=60, service_keys=[], uses=5, catalogue=make.catalogue
    )
    db.session.commit()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    body = {
        "client_name": "Key Holder",
        "redirect_uris": ["https://keys.example.org/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [_public_jwk(ec_key, "e1")]},
    }
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/register", json=body, headers=auth)
    assert created.status_code == 201, created.get_json()
    assert "client_secret" not in created.get_json() and created.get_json()["jwks"]
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key))
    refused = [
        {**body, "jwks": {"keys": [{**private, "kid": "p"}]}},  # a private key
        {**body, "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},  # a shared secret
        {**body, "jwks": None, "jwks_uri": None},
        {**body, "jwks_uri": "https://keys.example.org/jwks.json"},  # both
        {key: value for key, value in body.items() if key != "jwks"},  # neither
    ]
    for bad in refused:
        bad = {k: v for k, v in bad.items() if v is not None}
        response = client.post("/register", json=bad, headers=auth)
        assert response.status_code == 400, bad
        assert response.get_json()["error"] == "invalid_client_metadata"


def test_a_client_assertion_cannot_be_replayed_once_its_exp_has_passed(rp, key, teacher):
    """Authlib accepts an assertion a little after its exp (clock-skew leeway): its jti must
    be remembered that long too. Made already past its exp, so the test need not wait."""
    now = int(time.time())
    assertion = _assertion(rp.client_id, key, iat=now - 30, exp=now - 2)
    rp.assertion = lambda: assertion
    assert rp.exchange(rp.sign_in("teacher@example.org").code).status_code == 200
    for _ in range(2):
        replay = rp.exchange(rp.sign_in("teacher@example.org").code)
        assert replay.status_code == 401 and replay.get_json()["error"] == "invalid_client"
