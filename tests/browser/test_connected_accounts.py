"""Connect Google as the demo offers it: a provider configured by ``idp demo`` for its
stand-in for Google (``python -m clients.upstream``), both real processes; a person connects
"Google" from Account → Connected accounts, signs out, and signs in with it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from idp import config
from idp.cli import DEMO_UPSTREAM_NAME, demo_upstream
from tests.browser.journeys import sign_in, sign_out, submit
from tests.browser.pages import check
from tests.mailbox import free_port
from tests.servers import idp_serve
from tests.upstreams import demo_stand_in

ADDRESS = "connected@example.org"
PASSWORD = "lantern meadow copper 2026"
AT_GOOGLE = "connie.google@example.com"


@pytest.fixture(scope="module")
def with_google(site: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second provider process on the browser tests' database, with the demo's stand-in
    for Google configured as ``idp demo`` does it; yields its base URL."""
    tmp = tmp_path_factory.mktemp("with-google")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in site.env.items() if k != "IDP_UPSTREAM"}
    env["IDP_OIDC__ISSUER"] = base
    settings = config.load({"TESTING": True}, environ={})
    stand_in = demo_upstream(settings, tmp, base, env, port=free_port())
    assert stand_in is not None
    with (
        demo_stand_in(stand_in, tmp / "stand-in.log"),
        idp_serve(env, port, tmp / "idp.log", cwd=tmp, workers=1) as served,
    ):
        yield served


def test_connect_google_then_sign_in_with_it(site, with_google, new_page, axe_js):
    base = with_google
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Connie", "--last-name", "Nected",
        "--password", PASSWORD,
    )  # fmt: skip
    page = new_page()
    page.goto(base + "/login")
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    page.goto(base + "/account/connected")
    check(page, axe_js)
    submit(page, f"Connect {DEMO_UPSTREAM_NAME}")

    # At the stand-in, which says what it is.
    page.get_by_text("Demo stand-in for Google — not Google").wait_for()
    check(page, axe_js)
    page.get_by_label("Email address at Google").fill(AT_GOOGLE)
    page.get_by_label("Name at Google").fill("Connie at Google")
    submit(page, "Continue to My Cambridge")
    assert page.url == base + "/account/connected"
    page.get_by_text(f"{DEMO_UPSTREAM_NAME} is connected").wait_for()
    page.get_by_text(AT_GOOGLE).first.wait_for()
    check(page, axe_js)

    sign_out(page)
    page.goto(base + "/login")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Sign in with {DEMO_UPSTREAM_NAME}").click()
    # The stand-in remembers who was typed in this browser.
    assert page.get_by_label("Email address at Google").input_value() == AT_GOOGLE
    submit(page, "Continue to My Cambridge")
    assert page.url == base + "/"
    page.get_by_role("heading", name="Welcome, Connie").wait_for()
