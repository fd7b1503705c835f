"""An independent relying-party library, pyoidc (``oic``), against ``idp serve`` over real
HTTP: discovery, dynamic registration with an initial access token, the RFC 7592 read, the code
flow with a person signing in through the real pages (password, then the code emailed through
a real SMTP server), the ID token checked by the library against the JWKS, userinfo, refresh and
RP-initiated logout. The library is driven as its documentation shows; where it departs from
the specifications, the test says so."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oic.oauth2.message import ErrorResponse
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, OpenIDSchema
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from idp.domain import registration
from idp.extensions import db
from tests.mailbox import code_in

pytestmark = pytest.mark.slow

# Nothing listens here: the test reads the redirect's Location instead of following it.
REDIRECT_URI = "http://127.0.0.1:9/callback"
SIGNED_OUT_URI = "http://127.0.0.1:9/signed-out"


class _Bearer(requests.auth.AuthBase):
    """The initial access token as RFC 6750 sends it. pyoidc's ``register(registration_token=)``
    base64-encodes a token that is not a JWT before sending it, which no server expecting the
    token itself accepts; its maintainers' suggested workaround is a requests auth like this."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _csrf(page: requests.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def _hidden(page: requests.Response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def _to_redirect_uri(browser: requests.Session, base: str, response: requests.Response) -> str:
    """Follow the provider's redirects (and its consent page) until one leaves for the relying
    party; that one's Location."""
    for _ in range(10):
        if response.status_code == 200 and 'name="decision"' in response.text:
            response = browser.post(
                base + "/consent",
                data={
                    "csrf_token": _csrf(response),
                    "ix": _hidden(response, "ix"),
                    "decision": "allow",
                },
                allow_redirects=False,
                timeout=5,
            )
            continue
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        location = response.headers["Location"]
        if location.startswith(REDIRECT_URI):
            return location
        response = browser.get(
            location if location.startswith("http") else base + location,
            allow_redirects=False,
            timeout=5,
        )
    raise AssertionError("no redirect to the relying party")


def _sign_in(
    browser: requests.Session, base: str, authorize_url: str, email: str, password: str, mailbox
) -> str:
    """The person's part: the sign-in page, the password, the emailed code, consent. Returns
    the redirect back to the relying party."""
    login = browser.get(authorize_url, timeout=5)
    assert login.status_code == 200 and "Sign in" in login.text, login.text[:500]
    response = browser.post(
        base + "/login",
        data={
            "csrf_token": _csrf(login),
            "ix": _hidden(login, "ix"),
            "email": email,
            "password": password,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.headers["Location"] == "/login/verify"
    page = browser.get(base + "/login/verify", timeout=5)
    code = code_in(mailbox.wait_for(email, "verification code"))
    response = browser.post(
        base + "/login/verify",
        data={"csrf_token": _csrf(page), "code": code},
        allow_redirects=False,
        timeout=5,
    )
    return _to_redirect_uri(browser, base, response)


def _initial_access_token(make: Any) -> str:
    token, _ = registration.issue_initial_token(
        ttl_seconds=600, service_keys=["submit_for_assessment"], uses=1, catalogue=make.catalogue
    )
    db.session.commit()
    return token


def test_pyoidc_registers_signs_in_refreshes_and_signs_out(live_server, make, mailbox):
    from tests.factories import PASSWORD

    org = make.org("IO101", name="Interop Centre")
    person = make.user("interop@example.org", org=org, roles=("sfa.teacher",))

    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    # Discovery, with the issuer checked against the one asked for, and the JWKS loaded.
    info = rp.provider_config(live_server)
    assert info["issuer"] == live_server and rp.keyjar.get_issuer_keys(live_server)

    # Dynamic registration. Like Apache's mod_auth_openidc, ask for a hybrid flow beside the
    # code flow: the provider registers what it supports and says so.
    rp.request_args["auth"] = _Bearer(_initial_access_token(make))
    registered = rp.register(
        info["registration_endpoint"],
        client_name="Interop Planner",
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[SIGNED_OUT_URI],
        response_types=["code", "code id_token"],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile email roles",
        token_endpoint_auth_method="client_secret_basic",
    )
    del rp.request_args["auth"]
    assert registered["response_types"] == ["code"]
    assert set(registered["grant_types"]) == {"authorization_code", "refresh_token"}
    assert rp.client_id == registered["client_id"] and rp.client_secret
    rp.redirect_uris = [REDIRECT_URI]

    # RFC 7592 read, with the registration access token the library kept.
    read = rp.registration_read()
    assert read["client_id"] == rp.client_id
    assert read["registration_access_token"] == registered["registration_access_token"]

    # The code flow: the library builds the request; a person signs in through the pages.
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    challenge, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": "openid profile email roles",
            "state": state,
            "nonce": nonce,
            "redirect_uri": REDIRECT_URI,
            **challenge,
        }
    )
    browser = requests.Session()
    back = _sign_in(
        browser,
        live_server,
        request.request(rp.authorization_endpoint),
        person.email,
        PASSWORD,
        mailbox,
    )
    answer = rp.parse_response(
        AuthorizationResponse, info=urlsplit(back).query, sformat="urlencoded"
    )
    assert not isinstance(answer, ErrorResponse), answer.to_dict()
    assert answer["state"] == state

    tokens = rp.do_access_token_request(
        state=state,
        request_args={
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        authn_method="client_secret_basic",
    )
    assert isinstance(tokens, AccessTokenResponse), tokens.to_dict()
    # The library verified the ID token's signature against the JWKS, its issuer and audience.
    id_token = tokens["id_token"]
    assert id_token["iss"] == live_server and id_token["aud"] == [rp.client_id]
    assert id_token["sub"] == person.sub and id_token["nonce"] == nonce
    assert id_token.jws_header["kid"] in {k.kid for k in rp.keyjar.get_issuer_keys(live_server)}

    claims = rp.do_user_info_request(state=state)
    assert isinstance(claims, OpenIDSchema), claims.to_dict()
    assert claims["sub"] == person.sub and claims["email"] == person.email
    assert claims["roles"] == ["sfa.teacher"]

    refreshed = rp.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert isinstance(refreshed, AccessTokenResponse), refreshed.to_dict()
    assert refreshed["access_token"] != tokens["access_token"]
    assert rp.do_user_info_request(state=state)["sub"] == person.sub

    # RP-initiated logout: the library builds the request; the browser follows it back.
    logout = rp.construct_EndSessionRequest(
        state=state,
        request_args={"post_logout_redirect_uri": SIGNED_OUT_URI, "state": "bye"},
    )
    response = browser.get(
        logout.request(rp.end_session_endpoint), allow_redirects=False, timeout=5
    )
    assert response.status_code == 302, response.text[:500]
    assert parse_qs(urlsplit(response.headers["Location"]).query)["state"] == ["bye"]
    assert response.headers["Location"].startswith(SIGNED_OUT_URI)
    # Signed out: the provider asks for a sign-in again.
    again = browser.get(request.request(rp.authorization_endpoint), timeout=5)
    assert "Sign in" in again.text and 'name="password"' in again.text
