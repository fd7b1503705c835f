"""The demo's stand-in for Google (clients/upstream.py) on a loopback port, over real HTTP:
what the provider needs of an OpenID provider, and what it refuses to whoever is not the
provider (another redirect URI, a spent or late code, a wrong PKCE verifier or secret, a
form posted from another browser)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from werkzeug.serving import make_server

from clients.upstream import CODE_TTL, Registration, at_hash, create_upstream_app
from tests.mailbox import free_port
from tests.oidc_helpers import s256

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]+)"')
CALLBACK = "http://127.0.0.1:9/login/with/google/callback"
LABEL = "Demo stand-in for Google — not Google"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class StandIn:
    base: str
    registration: Registration
    clock: Clock

    def ask(
        self, browser: requests.Session, **params: str
    ) -> tuple[requests.Response, dict[str, str]]:
        """An authorization request as the provider sends it (``params`` on top): the page
        and what was sent, with the PKCE verifier."""
        verifier = secrets.token_urlsafe(48)
        sent = {
            "response_type": "code",
            "client_id": self.registration.client_id,
            "redirect_uri": self.registration.redirect_uri,
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            **params,
        }
        page = browser.get(
            f"{self.base}/authorize?{urlencode(sent)}", allow_redirects=False, timeout=5
        )
        return page, {**sent, "verifier": verifier}

    def answer(
        self, browser: requests.Session, page: requests.Response, **form: str
    ) -> requests.Response:
        data = {
            "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "rid": RID.search(page.text).group(1),  # type: ignore[union-attr]
            "email": "sam.google@example.com",
            "name": "Sam Google",
            "continue": "",
            **form,
        }
        return browser.post(f"{self.base}/authorize", data=data, allow_redirects=False, timeout=5)

    def code(self, browser: requests.Session, **form: str) -> tuple[str, dict[str, str]]:
        """Through the page to a code: the code and what was sent."""
        page, sent = self.ask(browser)
        back = self.answer(browser, page, **form)
        query = _back(back, self.registration.redirect_uri)
        assert query["state"] == sent["state"] and query["iss"] == self.base
        return query["code"], sent

    def exchange(self, code: str, verifier: str, **options: Any) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.registration.redirect_uri,
            "code_verifier": verifier,
            **options.pop("data", {}),
        }
        auth = options.pop("auth", (self.registration.client_id, self.registration.client_secret))
        return requests.post(f"{self.base}/token", data=data, auth=auth, timeout=5, **options)


def _back(response: requests.Response, redirect_uri: str) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    clock = Clock()
    registration = Registration("my-cambridge", secrets.token_urlsafe(32), CALLBACK)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_upstream_app(registration, issuer=base, clock=clock)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield StandIn(base, registration, clock)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_provider_gets_a_signed_id_token_for_who_was_typed(stand_in, browser):
    metadata = requests.get(f"{stand_in.base}/.well-known/openid-configuration", timeout=5).json()
    assert metadata["issuer"] == stand_in.base
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    page, _ = stand_in.ask(browser)
    assert page.status_code == 200 and LABEL in page.text
    assert "sam.sample@example.com" in page.text  # a made-up example to start from
    back = stand_in.answer(browser, page)
    code = _back(back, CALLBACK)["code"]
    # Asked again in the same browser, the page offers whom was typed last.
    assert "sam.google@example.com" in stand_in.ask(browser)[0].text

    code, sent = stand_in.code(browser)
    token = stand_in.exchange(code, sent["verifier"])
    assert token.status_code == 200, token.text
    assert token.headers["Cache-Control"] == "no-store"
    body = token.json()
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(body["id_token"])
    claims = jwt.decode(
        body["id_token"],
        key.key,
        algorithms=["RS256"],
        audience=stand_in.registration.client_id,
        issuer=stand_in.base,
        options={"verify_exp": False, "verify_iat": False},  # the stand-in's clock is frozen
    )
    assert claims["nonce"] == sent["nonce"]
    assert claims["at_hash"] == at_hash(body["access_token"])
    assert claims["email"] == "sam.google@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Sam Google"
    assert claims["exp"] > claims["iat"] == int(stand_in.clock.now)

    info = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=5,
    )
    assert info.json()["sub"] == claims["sub"]
    # The same address is the same account, whoever types it and whenever.
    again, sent = stand_in.code(requests.Session())
    other = jwt.decode(
        stand_in.exchange(again, sent["verifier"]).json()["id_token"],
        options={"verify_signature": False},
    )
    assert other["sub"] == claims["sub"]


def test_the_client_may_send_its_secret_in_the_form(stand_in, browser):
    code, sent = stand_in.code(browser)
    registration = stand_in.registration
    form = {"client_id": registration.client_id, "client_secret": registration.client_secret}
    assert stand_in.exchange(code, sent["verifier"], auth=None, data=form).status_code == 200


@pytest.mark.parametrize("field", ["redirect_uri", "client_id"])
def test_a_request_for_another_address_or_client_is_refused_without_a_redirect(
    stand_in, browser, field
):
    value = "https://attacker.example/callback" if field == "redirect_uri" else "someone-else"
    page, _ = stand_in.ask(browser, **{field: value})
    assert page.status_code == 400 and "Location" not in page.headers
    assert LABEL in page.text
    # Not a prefix, not a variation either: exactly the registered one.
    page, _ = stand_in.ask(browser, redirect_uri=CALLBACK + "/../evil")
    assert page.status_code == 400 and "Location" not in page.headers


@pytest.mark.parametrize(
    "params",
    [{"code_challenge_method": "plain"}, {"code_challenge": ""}, {"scope": "email"}],
    ids=["plain PKCE", "no PKCE", "not OpenID"],
)
def test_a_request_without_s256_or_openid_goes_back_with_an_error(stand_in, browser, params):
    page, sent = stand_in.ask(browser, **params)
    query = _back(page, CALLBACK)
    assert "code" not in query and query["state"] == sent["state"]
    assert query["error"] in ("invalid_request", "invalid_scope")


def test_a_code_is_used_once(stand_in, browser):
    code, sent = stand_in.code(browser)
    assert stand_in.exchange(code, sent["verifier"]).status_code == 200
    replayed = stand_in.exchange(code, sent["verifier"])
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"


def test_a_code_lasts_a_minute(stand_in, browser):
    code, sent = stand_in.code(browser)
    stand_in.clock.now += CODE_TTL
    late = stand_in.exchange(code, sent["verifier"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_wrong_pkce_verifier_is_refused_and_spends_the_code(stand_in, browser):
    code, sent = stand_in.code(browser)
    wrong = stand_in.exchange(code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert stand_in.exchange(code, sent["verifier"]).status_code == 400


def test_another_redirect_uri_at_the_token_endpoint_is_refused(stand_in, browser):
    code, sent = stand_in.code(browser)
    other = stand_in.exchange(
        code, sent["verifier"], data={"redirect_uri": "https://attacker.example/callback"}
    )
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("how", ["basic", "post"])
def test_a_wrong_client_secret_is_refused_and_gets_no_token(stand_in, browser, how):
    code, sent = stand_in.code(browser)
    client_id = stand_in.registration.client_id
    if how == "basic":
        refused = stand_in.exchange(code, sent["verifier"], auth=(client_id, "guess"))
    else:
        form = {"client_id": client_id, "client_secret": "guess"}
        refused = stand_in.exchange(code, sent["verifier"], auth=None, data=form)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "id_token" not in refused.text and "access_token" not in refused.text


def test_the_form_posted_from_another_browser_is_refused(stand_in, browser):
    """Login CSRF at the stand-in: an attacker's page posts the form, with the attacker's
    own request, into the victim's browser. Without that browser's token there is no code."""
    page, _ = stand_in.ask(browser)
    with requests.Session() as victim:
        stand_in.ask(victim)  # the victim has a session at the stand-in too
        forged = stand_in.answer(victim, page, email="attacker@example.com")
    assert forged.status_code == 400 and "Location" not in forged.headers
    # Nor without the token, even in the browser that made the request.
    assert stand_in.answer(browser, page, csrf_token="").status_code == 400
    # Each request is answered once, in the browser that made it.
    assert stand_in.answer(browser, page).status_code == 302
    assert stand_in.answer(browser, page).status_code == 400


def test_cancelling_goes_back_with_access_denied(stand_in, browser):
    page, sent = stand_in.ask(browser)
    query = _back(stand_in.answer(browser, page, cancel=""), CALLBACK)
    assert query == {"error": "access_denied", "state": sent["state"], "iss": stand_in.base}


def test_userinfo_needs_a_live_token(stand_in, browser):
    code, sent = stand_in.code(browser)
    token = stand_in.exchange(code, sent["verifier"]).json()["access_token"]
    for header in ("Bearer nonsense", f"Basic {token}", ""):
        refused = requests.get(
            f"{stand_in.base}/userinfo", headers={"Authorization": header}, timeout=5
        )
        assert refused.status_code == 401
    stand_in.clock.now += 3600
    late = requests.get(
        f"{stand_in.base}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert late.status_code == 401
