"""Behind a reverse proxy (``trusted_proxies``): the client's address and scheme come from the
proxy's headers, and only from as many proxies as are configured; without proxies the headers
are ignored, so a client cannot choose the address that throttling and the audit log see."""

from __future__ import annotations

from idp.domain import audit
from tests.journeys import sign_in
from tests.oidc_helpers import csrf_token

WRONG = "not the password, not at all"


def _last_ip() -> str:
    return list(audit.stream(audit.Filter(action="sign_in.")))[-1]["ip"]


def test_without_proxies_forwarded_headers_are_ignored(client, make):
    make.user("jane@example.org")
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    sign_in(client, "jane@example.org", WRONG)
    assert _last_ip() == "127.0.0.1"


def test_behind_one_proxy_the_client_address_and_https_come_from_it(make_app, overrides, make):
    overrides["TRUSTED_PROXIES"] = 1
    overrides["OIDC"] = {**overrides["OIDC"], "ISSUER": "https://sso.example.org"}
    app = make_app(overrides)
    make.user("jane@example.org")
    browser = app.test_client()
    # The proxy appends the address it saw; anything before that came from the client.
    browser.environ_base.update(
        HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.9",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_REFERER="https://sso.example.org/login",  # CSRF's https check wants one
    )
    page = browser.get("/login", base_url="http://sso.example.org")
    assert page.headers["Set-Cookie"].startswith("__Host-idp_session=")
    browser.post(
        "/login",
        data={"csrf_token": csrf_token(page), "email": "jane@example.org", "password": WRONG},
        base_url="http://sso.example.org",
    )
    assert _last_ip() == "203.0.113.9"  # not the address the client claimed
