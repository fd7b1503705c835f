"""The pages the journeys elsewhere do not reach: the operator registers a third-party client
on its pages, a person is asked for consent and finds the app under Account, the sign-out
pages, sign-up and the error pages. Each passes axe-core and the phone-width check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.browser.journeys import sign_in, submit, virtual_authenticator
from tests.browser.pages import check
from tests.mailbox import free_port

OPERATOR = "pages.operator@example.org"
PERSON = "pages.person@example.org"
PASSWORD = "paper lantern thistle 2026"


class Service(BaseHTTPRequestHandler):
    """Where the third-party service's redirect URI leads: a page saying so."""

    def do_GET(self) -> None:  # noqa: N802
        body = b"<!doctype html><title>Revision Planner</title><p>Back at the service."
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", free_port()), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_operator_consent_account_and_error_pages(site, new_page, axe_js, service):
    site.idp(
        "users", "create", "--email", OPERATOR, "--first-name", "Oscar", "--last-name",
        "Operator", "--password", PASSWORD,
    )  # fmt: skip
    site.idp("staff", "grant", OPERATOR, "--role", "operator")
    site.idp(
        "users", "create", "--email", PERSON, "--first-name", "Petra", "--last-name", "Person",
        "--password", PASSWORD,
    )  # fmt: skip

    # The operator registers a third-party service, a mistake first.
    callback = service.rsplit("/", 1)[0] + "/callback"
    ops = new_page()
    virtual_authenticator(ops)
    ops.goto(site.base + "/login")
    sign_in(ops, site.mailbox, OPERATOR, PASSWORD)
    # Staff add a passkey before anything else, then confirm with it for the console.
    assert ops.url.startswith(site.base + "/account/passkey-required")
    ops.get_by_label("Name of the new passkey").fill("Operations laptop")
    submit(ops, "Add a passkey")
    with ops.expect_navigation():
        ops.get_by_role("link", name="I have saved my codes").click()
    # His home page points him to the console (he belongs to no centre).
    ops.locator("#main").get_by_role("link", name="Console").click()
    ops.get_by_role("heading", name="Confirm it is you with your passkey").wait_for()
    check(ops, axe_js, "console-confirm")
    submit(ops, "Use my passkey")
    ops.get_by_role("heading", name="Console").wait_for()
    check(ops, axe_js, "console")
    ops.locator("#main").get_by_role("link", name="Signing keys").first.click()
    ops.get_by_role("heading", name="Signing keys").wait_for()
    check(ops, axe_js, "console-keys")
    ops.locator("#main").get_by_role("link", name="Clients").first.click()
    check(ops, axe_js, "operator-clients")
    ops.get_by_role("link", name="Register a client").click()
    submit(ops, "Register")
    assert ops.locator(".error-summary a").first.get_attribute("href") == "#name"
    assert ops.locator("#name").get_attribute("aria-invalid") == "true"
    check(ops, axe_js)
    ops.get_by_label("Name people see").fill("Revision Planner")
    ops.get_by_label("Redirect URIs", exact=True).fill(callback)
    ops.get_by_label("Third-party: ask people for consent").check()
    submit(ops, "Register")
    ops.get_by_role("heading", name="Revision Planner is registered").wait_for()
    client_id = ops.locator("dd code").first.inner_text()
    check(ops, axe_js)
    ops.get_by_role("link", name="Done").click()
    ops.get_by_role("heading", name="Revision Planner").wait_for()
    check(ops, axe_js, "operator-client")

    # A person arrives from it, signs in and is asked for consent.
    person = new_page()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": callback,
            "scope": "openid profile email",
            "state": "s-1",
            "nonce": "n-1",
        }
    )
    person.goto(f"{site.base}/authorize?{query}")
    sign_in(person, site.mailbox, PERSON, PASSWORD)
    person.get_by_role("heading", name="Revision Planner would like to use").wait_for()
    check(person, axe_js, "consent")
    submit(person, "Allow")
    assert person.url.startswith(callback)
    assert parse_qs(urlsplit(person.url).query)["state"] == ["s-1"]

    # Their account pages, the app among them.
    person.goto(site.base + "/account/apps")
    assert "Revision Planner" in person.locator("main").inner_text()
    check(person, axe_js, "account-apps")
    for path in ("/account/password", "/account/connected"):
        person.goto(site.base + path)
        check(person, axe_js)

    # Error pages: an unknown client, an unknown page.
    person.goto(f"{site.base}/authorize?client_id=no-such-client&response_type=code")
    check(person, axe_js, "error-unknown-client")
    person.goto(site.base + "/no-such-page")
    check(person, axe_js, "error-not-found")

    # Signing out from the services' logout endpoint: asked first, then told.
    person.goto(site.base + "/logout")
    person.get_by_role("heading", name="Sign out of My Cambridge?").wait_for()
    check(person, axe_js)
    submit(person, "Sign out")
    person.get_by_role("heading", name="You have signed out").wait_for()
    check(person, axe_js)

    # Sign-up, with a mistake.
    person.goto(site.base + "/signup")
    check(person, axe_js)
    submit(person)
    assert person.locator(".error-summary").get_attribute("role") == "alert"
    check(person, axe_js, "sign-up-error")
