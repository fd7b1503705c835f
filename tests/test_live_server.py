"""The provider as operators run it: `idp serve` (gunicorn) on a loopback port, driven over
real HTTP by a relying party using requests and PyJWT's JWKS client: with two workers, and
with one worker that gunicorn replaces every few requests (``max_requests``), as it does in
production every ten thousand."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.mailbox import code_in, free_port
from tests.oidc_helpers import s256
from tests.servers import idp_serve, live_server_environment

pytestmark = pytest.mark.slow

RECYCLE_AFTER = 3


@pytest.fixture(scope="module")
def recycling_server(
    _schema, base_overrides, smtp_server, tmp_path_factory
) -> Iterator[tuple[str, Path]]:
    """One worker, replaced by a new one after every three requests; yields the base URL and
    the server's log."""
    port = free_port()
    env = live_server_environment(base_overrides, smtp_server, tmp_path_factory, port)
    env["GUNICORN_CMD_ARGS"] = f"--max-requests {RECYCLE_AFTER} --max-requests-jitter 0"
    log = tmp_path_factory.mktemp("recycling-log") / "server.log"
    with idp_serve(env, port, log, cwd=Path(base_overrides["INSTANCE_DIR"]), workers=1) as base:
        yield base, log


@pytest.fixture(params=["two workers", "one worker replaced every three requests"])
def served(request) -> str:
    if request.param == "two workers":
        return request.getfixturevalue("live_server")
    return request.getfixturevalue("recycling_server")[0]


def _authorize(browser: requests.Session, live_server: str, registered: Any) -> dict[str, str]:
    """A code request's parameters, with fresh PKCE, state and nonce."""
    verifier = secrets.token_urlsafe(48)
    return {
        "verifier": verifier,
        "query": urlencode(
            {
                "response_type": "code",
                "client_id": registered.client_id,
                "redirect_uri": registered.redirect_uri,
                "scope": "openid profile email roles",
                "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8),
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
            }
        ),
    }


def _follow(browser: requests.Session, live_server: str, response: Any, redirect_uri: str) -> dict:
    """Follow the provider's redirects to the relying party's: its query, parsed."""
    while not response.headers["Location"].startswith(redirect_uri):
        response = browser.get(
            live_server + response.headers["Location"], allow_redirects=False, timeout=5
        )
    return parse_qs(urlsplit(response.headers["Location"]).query)


def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _sign_in(browser, live_server, metadata, registered, mailbox, email) -> tuple[dict, str]:
    """Sign in over HTTP during a code request: the redirect's parameters and the verifier."""
    asked = _authorize(browser, live_server, registered)
    login = browser.get(metadata["authorization_endpoint"] + "?" + asked["query"], timeout=5)
    assert login.status_code == 200 and "Sign in" in login.text
    form = {
        "csrf_token": _csrf(login),
        "ix": re.search(r'name="ix" value="([^"]+)"', login.text).group(1),
        "email": email,
        "password": "correct horse battery",
    }
    response = browser.post(live_server + "/login", data=form, allow_redirects=False, timeout=5)
    assert response.headers["Location"] == "/login/verify"
    page = browser.get(live_server + "/login/verify", timeout=5)
    code = code_in(mailbox.wait_for(email, "verification code"))
    response = browser.post(
        live_server + "/login/verify",
        data={"csrf_token": _csrf(page), "code": code},
        allow_redirects=False,
        timeout=5,
    )
    return _follow(browser, live_server, response, registered.redirect_uri), asked


def test_relying_party_signs_in_over_real_http(served, make, mailbox):
    live_server = served
    org = make.org("LV101", name="Live Centre")
    user = make.user("live@example.org", org=org, roles=("sfa.teacher",))
    registered = make.client(redirect_uri="http://127.0.0.1:9/callback")
    metadata = requests.get(live_server + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["issuer"] == live_server

    browser = requests.Session()
    params, asked = _sign_in(browser, live_server, metadata, registered, mailbox, user.email)
    sent = parse_qs(asked["query"])
    state, nonce, verifier = sent["state"][0], sent["nonce"][0], asked["verifier"]
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


def test_replaced_workers_leave_cleanly_and_the_next_one_answers(recycling_server):
    base, log = recycling_server
    before = log.read_text().count("Autorestarting worker")
    answers = [
        requests.get(base + path, timeout=5)
        for path in ("/.well-known/openid-configuration", "/jwks.json", "/login") * 4
    ]
    assert [a.status_code for a in answers] == [200] * 12
    assert len({a.content for a in answers[1::3]}) == 1  # the same keys from every worker
    text = log.read_text()
    assert text.count("Autorestarting worker") - before >= 12 // RECYCLE_AFTER - 1
    # A worker that exits with an error status, or fails on its way out, is logged by gunicorn.
    assert "exited with code" not in text
    assert "Exception during worker exit" not in text
    assert "not closed cleanly" not in text


def test_one_code_redeemed_twice_at_once_gives_one_token(live_server, make, mailbox):
    """Two requests with one code, sent at the same moment to two workers: exactly one is
    answered with tokens, however the race falls, round after round."""
    user = make.user("twice@example.org")
    registered = make.client(redirect_uri="http://127.0.0.1:9/callback")
    metadata = requests.get(live_server + "/.well-known/openid-configuration", timeout=5).json()
    browser = requests.Session()
    params, asked = _sign_in(browser, live_server, metadata, registered, mailbox, user.email)

    outcomes = []
    for _round in range(12):
        start = threading.Barrier(2)
        answers: list[int] = []

        def redeem(
            code: str,
            verifier: str,
            start: threading.Barrier = start,
            answers: list[int] = answers,
        ) -> None:
            with requests.Session() as client:
                client.get(live_server + "/healthz", timeout=5)  # connected before the start
                start.wait(timeout=10)
                answer = client.post(
                    metadata["token_endpoint"],
                    auth=(registered.client_id, registered.secret),
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": registered.redirect_uri,
                        "code_verifier": verifier,
                    },
                    timeout=10,
                )
                answers.append(answer.status_code)

        racing = [
            threading.Thread(target=redeem, args=(params["code"][0], asked["verifier"]))
            for _ in range(2)
        ]
        for thread in racing:
            thread.start()
        for thread in racing:
            thread.join(timeout=20)
        outcomes.append(sorted(answers))
        # The next code, for the browser still signed in.
        asked = _authorize(browser, live_server, registered)
        response = browser.get(
            metadata["authorization_endpoint"] + "?" + asked["query"],
            allow_redirects=False,
            timeout=5,
        )
        params = _follow(browser, live_server, response, registered.redirect_uri)
    assert outcomes == [[200, 400]] * 12
