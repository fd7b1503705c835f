"""Headers and cookies on every page (ASVS 5.0 V3.4, V3.3; RFC 9700 §4.16 clickjacking):
a CSP with no inline script and no framing, nosniff, no caching of pages, HSTS and
``__Host-`` cookies on https."""

from __future__ import annotations

import re

import pytest

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
