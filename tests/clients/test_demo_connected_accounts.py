"""Connected accounts as the demo sets them up: the stand-in for Google
(``python -m clients.upstream``) and the provider (``idp serve``), each its own process on a
loopback port, wired by what ``idp demo`` does (``demo_upstream``), driven over real HTTP by a
requests session playing the browser: connect "Google", then sign in with it in a new
browser."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from idp.cli import DEMO_UPSTREAM_NAME, StandIn, demo_upstream
from tests.factories import PASSWORD
from tests.mailbox import free_port
from tests.servers import idp_serve, server_env
from tests.upstreams import demo_stand_in

pytestmark = pytest.mark.slow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]+)"')


@pytest.fixture
def demo(app, base_overrides, tmp_path) -> Iterator[tuple[str, StandIn]]:
    """The provider and the stand-in as ``idp demo`` starts them; yields the provider's base
    URL and the stand-in."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        tmp_path,
        IDP_OIDC__ISSUER=base,
    )
    settings = app.extensions["idp.settings"]
    stand_in = demo_upstream(settings, tmp_path, base, env, port=free_port())
    assert stand_in is not None
    with (
        demo_stand_in(stand_in, tmp_path / "stand-in.log"),
        idp_serve(env, port, tmp_path / "server.log", cwd=tmp_path) as served,
    ):
        yield served, stand_in


def _csrf(page: requests.Response) -> str:
    return CSRF.search(page.text).group(1)  # type: ignore[union-attr]


def _at_google(
    browser: requests.Session, to_google: requests.Response, stand_in: StandIn, email: str
) -> str:
    """Play the person at the stand-in: type who they are there and continue; where the
    stand-in sends the browser back."""
    assert to_google.status_code == 302, to_google.text
    location = to_google.headers["Location"]
    assert location.startswith(stand_in.issuer + "/authorize?"), location
    page = browser.get(location, timeout=5)
    assert "Demo stand-in for Google — not Google" in page.text
    form = {
        "csrf_token": _csrf(page),
        "rid": RID.search(page.text).group(1),  # type: ignore[union-attr]
        "email": email,
        "name": "Donald at Google",
        "continue": "",
    }
    back = browser.post(stand_in.issuer + "/authorize", data=form, allow_redirects=False)
    assert back.status_code == 302, back.text
    assert back.headers["Location"].startswith(stand_in.redirect_uri + "?")
    return str(back.headers["Location"])


def test_connect_the_stand_in_then_sign_in_with_it(demo, make):
    base, stand_in = demo
    org = make.org("AA101")
    donald = make.user("donald@example.org", given_name="Donald", org=org, roles=("sfa.teacher",))

    browser = requests.Session()
    login = browser.get(base + "/login", timeout=5)
    assert DEMO_UPSTREAM_NAME in login.text  # "Sign in with Google (demo stand-in)"
    form = {"csrf_token": _csrf(login), "email": donald.email, "password": PASSWORD}
    signed_in = browser.post(base + "/login", data=form, allow_redirects=False, timeout=5)
    assert signed_in.headers["Location"] == "/"

    page = browser.get(base + "/account/connected", timeout=5)
    assert f"Connect {DEMO_UPSTREAM_NAME}" in page.text
    to_google = browser.post(
        base + "/account/connected/google/connect",
        data={"csrf_token": _csrf(page)},
        allow_redirects=False,
        timeout=5,
    )
    back = _at_google(browser, to_google, stand_in, "donald.google@example.com")
    done = browser.get(back, allow_redirects=False, timeout=5)
    assert done.headers["Location"] == "/account/connected", done.text
    page = browser.get(base + "/account/connected", timeout=5)
    assert f"{DEMO_UPSTREAM_NAME} is connected" in page.text
    assert "donald.google@example.com" in page.text

    # A new browser: signed in with "Google" alone.
    other = requests.Session()
    login = other.get(base + "/login", timeout=5)
    to_google = other.post(
        base + "/login/with/google",
        data={"csrf_token": _csrf(login)},
        allow_redirects=False,
        timeout=5,
    )
    back = _at_google(other, to_google, stand_in, "donald.google@example.com")
    home = other.get(back, allow_redirects=False, timeout=5)
    assert home.headers["Location"] == "/", home.text
    account = other.get(base + "/account/personal", allow_redirects=False, timeout=5)
    assert account.status_code == 200 and donald.email in account.text

    # Someone else at "Google" is nobody here.
    stranger = requests.Session()
    login = stranger.get(base + "/login", timeout=5)
    to_google = stranger.post(
        base + "/login/with/google",
        data={"csrf_token": _csrf(login)},
        allow_redirects=False,
        timeout=5,
    )
    refused = stranger.get(_at_google(stranger, to_google, stand_in, "donald@example.org"))
    assert refused.status_code == 403
    assert stranger.get(base + "/account/personal", allow_redirects=False).status_code == 302
