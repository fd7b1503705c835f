"""Headers and cookies on every page (ASVS 5.0 V3.4, V3.3; RFC 9700 §4.16 clickjacking):
a CSP with no inline script and no framing, nosniff, no caching of pages, HSTS and
``__Host-`` cookies on https."""

from __future__ import annotations

import re

import pytest

from idp.security import origin
from tests.journeys import location, sign_in

PUBLIC = ["/login", "/signup", "/password/forgot", "/password/reset/not-a-token", "/nowhere"]
SIGNED_IN = [
    "/",
    "/account/personal",
    "/account/security",
    "/account/security/authenticator",
    "/account/apps",
    "/account/connected",
    "/organisation/",
    "/organisation/AA101/users",
    "/organisation/AA101/audit",
]


def _check_page(response, path: str) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["frame-ancestors"] == "'none'", path
    assert directives["script-src"] == "'self'", path  # no inline script, no eval
    assert "'unsafe-inline'" not in directives["style-src"], path
    assert directives["base-uri"] == "'none'", path
    assert headers["X-Frame-Options"] == "DENY", path
    assert headers["X-Content-Type-Options"] == "nosniff", path
    assert headers["Cache-Control"] == "no-store", path
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), path
    html = response.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, (path, tag)  # scripts are files, never inline
    assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline event handlers
    assert "style=" not in html, path


def test_every_page_has_the_headers(client, make):
    org = make.org("AA101")
    make.exams_officer(org)
    for path in PUBLIC:
        _check_page(client.get(path), path)
    assert location(sign_in(client, "officer@example.org")) == "/"
    for path in SIGNED_IN:
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        _check_page(response, path)


def test_json_answers_are_not_sniffed_or_cached(client):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    token = client.post("/token", data={"grant_type": "client_credentials"})
    assert token.headers["X-Content-Type-Options"] == "nosniff"
    assert token.headers["Cache-Control"] == "no-store"


@pytest.fixture
def https_app(make_app, overrides):
    overrides["OIDC"] = {**overrides["OIDC"], "ISSUER": "https://sso.example.org"}
    return make_app(overrides)


def test_https_adds_hsts_and_host_only_secure_cookies(https_app, make):
    make.user("jane@example.org")
    browser = https_app.test_client()
    page = browser.get("/login", base_url="https://sso.example.org")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie, cookie
    assert "Domain=" not in cookie


def test_plain_http_on_loopback_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def _form_action(response) -> list[str]:
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    return directives["form-action"].split()


def test_forms_lead_only_here_when_no_service_is_waiting(client, make):
    org = make.org("AA101")
    make.exams_officer(org)
    make.client()  # registered, but not signing anyone in
    for path in PUBLIC:
        assert _form_action(client.get(path)) == ["'self'"], path
    assert location(sign_in(client, "officer@example.org")) == "/"
    for path in SIGNED_IN:
        assert _form_action(client.get(path, follow_redirects=True)) == ["'self'"], path


def test_a_services_sign_in_lets_the_forms_lead_back_to_that_service_only(client, make):
    from tests.oidc_helpers import RelyingParty

    make.user("jane@example.org")
    asking, other = RelyingParty(client, make.client()), make.client()
    service = origin(asking.registered.redirect_uri)
    page = asking.authorize()
    assert page.status_code == 200
    # The sign-in ends with a redirect to the service: the browser applies form-action to it.
    assert _form_action(page) == ["'self'", service]
    assert origin(other.redirect_uri) not in page.headers["Content-Security-Policy"]
    # A page of this browser's other tabs too, for as long as the request waits.
    assert _form_action(client.get("/password/forgot")) == ["'self'", service]
    # Another browser, not.
    assert _form_action(make.app.test_client().get("/login")) == ["'self'"]


def test_signing_out_of_a_service_lets_the_confirmation_lead_back_to_it(client, make):
    from tests.oidc_helpers import RelyingParty

    make.user("jane@example.org")
    party = RelyingParty(client, make.client())
    assert location(sign_in(client, "jane@example.org")) == "/"
    page = client.get(
        "/logout?"
        + f"client_id={party.client_id}"
        + f"&post_logout_redirect_uri={party.registered.post_logout_redirect_uri}"
    )
    assert page.status_code == 200 and 'name="confirm"' in page.get_data(as_text=True)
    assert _form_action(page) == ["'self'", origin(party.registered.post_logout_redirect_uri)]


def test_downloads_and_json_get_a_policy_too(client, make):
    org = make.org("AA101")
    make.exams_officer(org)
    assert location(sign_in(client, "officer@example.org")) == "/"
    for path in ("/organisation/AA101/users/download", "/.well-known/openid-configuration"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype != "text/html"
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "sandbox" in csp, path


def test_a_sign_out_link_cannot_write_the_policy(client, make):
    """The sign-out confirmation names the post-logout URI's origin only when the client
    registered that URI, and only an origin rebuilt from its checked parts."""
    from urllib.parse import quote

    from tests.oidc_helpers import RelyingParty

    make.user("jane@example.org")
    party = RelyingParty(client, make.client())
    assert location(sign_in(client, "jane@example.org")) == "/"
    for asked in (
        "https://evil.example; frame-ancestors *; x/",
        "https://evil.example/signed-out",
        party.registered.post_logout_redirect_uri + "/elsewhere",
    ):
        page = client.get(
            f"/logout?client_id={party.client_id}&post_logout_redirect_uri={quote(asked)}"
        )
        csp = page.headers.get("Content-Security-Policy", "")
        assert "evil" not in csp and "frame-ancestors 'none'" in csp, csp
        assert csp.count("frame-ancestors") == 1 and _form_action(page) == ["'self'"], csp
