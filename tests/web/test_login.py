"""The sign-in page: CSRF, one generic error, safe redirects, the session cookie, sign-out."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.models import AuthSession
from tests.factories import PASSWORD
from tests.oidc_helpers import csrf_token


def sign_in(client, email: str, password: str = PASSWORD, **extra: str):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_token(page), "email": email, "password": password, **extra},
    )


def test_login_page_is_accessible_html(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="en">' in html
    assert '<label class="field__label" for="email">Email address</label>' in html
    assert '<label class="field__label" for="password">Password</label>' in html
    assert 'autocomplete="current-password"' in html
    # It works without JavaScript: the scripts are enhancements (Show/Hide on the password,
    # the passkey button), from this site, deferred; nothing inline.
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert scripts == ["", ""]
    assert re.search(r'<script src="/static/password-toggle\.js\?v=\w+" defer', html)
    assert re.search(r'<script src="/static/passkeys\.js\?v=\w+" defer', html)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_sign_in_goes_home_and_home_shows_the_services(client, make):
    org = make.org()
    make.user("jane@example.org", org=org, roles=("sfa.teacher",))
    response = sign_in(client, "jane@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Welcome, Jane" in home
    assert 'href="/launch/submit_for_assessment"' in home  # the Submit for Assessment tile works
    assert "You do not have a role for this service" in home  # the others do not


def test_home_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_post_without_csrf_token_is_refused(client, make):
    make.user("jane@example.org")
    response = client.post("/login", data={"email": "jane@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in


def test_unknown_account_and_wrong_password_look_the_same(client, make):
    make.user("jane@example.org")
    wrong = sign_in(client, "jane@example.org", "not the password").get_data(as_text=True)
    unknown = sign_in(client, "nobody@example.org", "not the password").get_data(as_text=True)

    def strip(html: str) -> str:
        html = re.sub(r'value="[^"]*"', 'value=""', html)
        return html

    assert strip(wrong) == strip(unknown)
    assert "Enter a correct email address and password." in wrong


def test_suspended_and_invited_accounts_cannot_sign_in_and_are_not_told_why(client, make):
    from idp.models import User

    suspended = make.user("sus@example.org")
    db.session.get(User, suspended.id).status = "suspended"
    db.session.commit()
    make.user("invited@example.org", password=None)
    for email in ("sus@example.org", "invited@example.org"):
        html = sign_in(client, email).get_data(as_text=True)
        assert "Enter a correct email address and password." in html
        assert "suspended" not in html.lower()


def test_email_is_matched_case_insensitively(client, make):
    make.user("jane@example.org")
    assert sign_in(client, "  JANE@Example.org ").status_code == 302


def test_next_parameter_only_goes_to_local_pages(client, make):
    make.user("jane@example.org")
    for target in (
        "https://evil.example.net/",
        "//evil.example.net/",
        "/\\evil.example.net",
        "javascript:alert(1)",
    ):
        response = sign_in(client, "jane@example.org", next=target)
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/")), "confirm": "yes"})
    response = sign_in(client, "jane@example.org", next="/?tab=services")
    assert response.headers["Location"] == "/?tab=services"


def test_session_cookie_is_http_only_and_same_site(client, make):
    make.user("jane@example.org")
    response = sign_in(client, "jane@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_creates_a_server_side_session_and_sign_out_ends_it(client, make):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    live = db.session.query(AuthSession).one()
    assert live.ended_at is None and live.amr == ["pwd"]
    home = client.get("/")
    response = client.post("/logout", data={"csrf_token": csrf_token(home), "confirm": "yes"})
    assert response.status_code == 200
    assert "You have signed out" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(AuthSession).one().ended_at is not None
    assert client.get("/").status_code == 302


def test_a_stolen_session_cookie_stops_working_after_sign_out(client, make, app):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    stolen = client.get_cookie("idp_session").value
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/")), "confirm": "yes"})
    thief = app.test_client()
    thief.set_cookie("idp_session", stolen)
    assert thief.get("/").status_code == 302


def test_session_expires(client, make):
    from idp import clock

    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    clock.advance(8 * 3600 + 1)
    assert client.get("/").status_code == 302


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_signing_in_again_keeps_the_session_id(client, make):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    sid = db.session.query(AuthSession).one().sid
    assert client.get("/login?next=/").status_code == 302  # already signed in
    again = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client.get("/")),
            "email": "jane@example.org",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 302
    assert [s.sid for s in db.session.query(AuthSession).all()] == [sid]


def test_another_person_signing_in_ends_the_first_session(client, make):
    make.user("jane@example.org", given_name="Jane")
    make.user("john@example.org", given_name="John")
    sign_in(client, "jane@example.org")
    client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client.get("/")),
            "email": "john@example.org",
            "password": PASSWORD,
        },
    )
    rows = {s.user.email: s for s in db.session.query(AuthSession).all()}
    assert rows["jane@example.org"].ended_at is not None
    assert rows["john@example.org"].ended_at is None
    assert "Welcome, John" in client.get("/").get_data(as_text=True)


def test_sign_ins_are_audited(client, make):
    from idp.models import AuditEvent

    user = make.user("jane@example.org")
    sign_in(client, "jane@example.org", "wrong password!!")
    sign_in(client, "ghost@example.org", "wrong password!!")
    sign_in(client, "jane@example.org")
    events = [
        (e.action, e.actor)
        for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
        if e.action.startswith("sign_in")
    ]
    assert events == [
        ("sign_in.failed", user.sub),
        ("sign_in.failed", "unknown"),
        ("sign_in.succeeded", user.sub),
    ]
