"""The provider as operators run it: `idp serve` (gunicorn, two workers) on a loopback port,
driven over real HTTP by a relying party using requests and PyJWT's JWKS client."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.mailbox import code_in
from tests.oidc_helpers import s256

pytestmark = pytest.mark.slow


def test_relying_party_signs_in_over_real_http(live_server, make, mailbox):
    org = make.org("LV101", name="Live Centre")
    user = make.user("live@example.org", org=org, roles=("sfa.teacher",))
    registered = make.client(redirect_uri="http://127.0.0.1:9/callback")
    metadata = requests.get(live_server + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["issuer"] == live_server

    browser = requests.Session()
    verifier, state, nonce = (
        secrets.token_urlsafe(48),
        secrets.token_urlsafe(8),
        secrets.token_urlsafe(8),
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": registered.client_id,
            "redirect_uri": registered.redirect_uri,
            "scope": "openid profile email roles",
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    login = browser.get(metadata["authorization_endpoint"] + "?" + query, timeout=5)
    assert login.status_code == 200 and "Sign in" in login.text
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1),
        "ix": re.search(r'name="ix" value="([^"]+)"', login.text).group(1),
        "email": "live@example.org",
        "password": "correct horse battery",
    }
    response = browser.post(live_server + "/login", data=form, allow_redirects=False, timeout=5)
    assert response.headers["Location"] == "/login/verify"
    page = browser.get(live_server + "/login/verify", timeout=5)
    code = code_in(mailbox.wait_for("live@example.org", "verification code"))
    response = browser.post(
        live_server + "/login/verify",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1),
            "code": code,
        },
        allow_redirects=False,
        timeout=5,
    )
    while not response.headers["Location"].startswith(registered.redirect_uri):
        response = browser.get(
            live_server + response.headers["Location"], allow_redirects=False, timeout=5
        )
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["state"] == [state] and params["iss"] == [live_server]

    token = requests.post(
        metadata["token_endpoint"],
        auth=(registered.client_id, registered.secret),
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": registered.redirect_uri,
            "code_verifier": verifier,
        },
        timeout=5,
    )
    assert token.status_code == 200, token.text
    body = token.json()

    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(body["id_token"])
    claims = jwt.decode(
        body["id_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience=registered.client_id,
        issuer=live_server,
    )
    assert (
        claims["sub"] == user.sub
        and claims["nonce"] == nonce
        and claims["roles"] == ["sfa.teacher"]
    )

    info = requests.get(
        metadata["userinfo_endpoint"],
        timeout=5,
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert info.json()["sub"] == user.sub
