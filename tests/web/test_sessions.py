"""Sign-in sessions: idle and absolute lifetimes, cookie flags, hash upgrades at sign-in."""

from __future__ import annotations

import re

from idp import clock
from idp.extensions import db
from idp.models import User
from tests.factories import PASSWORD
from tests.journeys import location, page_text, sign_in


def test_a_session_ends_after_the_idle_timeout_but_activity_keeps_it_alive(client, app, make):
    auth = app.extensions["idp.settings"].auth
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    for _ in range(3):  # active every 2/3 of the idle time: still signed in
        clock.advance(auth.session_idle_ttl * 2 // 3)
        assert client.get("/").status_code == 200
    clock.advance(auth.session_idle_ttl + 1)
    assert location(client.get("/")) == "/login"


def test_a_device_signed_out_by_idleness_is_not_listed_as_signed_in(client, app, make):
    """The Security page lists the devices still signed in: one idle past the timeout is
    signed out (it would be sent to the sign-in page), so it is not offered as signed in."""
    auth = app.extensions["idp.settings"].auth
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    phone = app.test_client()
    sign_in(phone, "jane@example.org")
    assert len(re.findall(r'name="session" value="', page_text(client.get("/account/security"))))
    clock.advance(auth.session_idle_ttl * 2 // 3)
    assert client.get("/").status_code == 200  # this browser stays active; the phone does not
    clock.advance(auth.session_idle_ttl // 2)
    assert location(phone.get("/")) == "/login"
    page = page_text(client.get("/account/security"))
    assert 'name="session" value="' not in page  # no other device to sign out


def test_a_session_ends_at_its_absolute_lifetime_however_active(client, app, make):
    auth = app.extensions["idp.settings"].auth
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    step = auth.session_idle_ttl // 2
    elapsed = 0
    while elapsed + step < auth.session_ttl:
        clock.advance(step)
        elapsed += step
        assert client.get("/").status_code == 200
    clock.advance(auth.session_ttl - elapsed)
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client, make):
    make.user("jane@example.org")
    response = sign_in(client, "jane@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test issuer is http://localhost


def test_session_cookie_is_secure_and_host_prefixed_on_https(make_app, overrides):
    overrides["OIDC"]["ISSUER"] = "https://idp.example.org"
    secure = make_app(overrides)
    page = secure.test_client().get("/login", base_url="https://idp.example.org")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=") and "Secure" in cookie and "Path=/" in cookie


def test_a_hash_made_with_old_parameters_is_upgraded_at_sign_in(app, make, make_app, overrides):
    user = make.user("jane@example.org")
    old_hash = user.password_hash
    overrides["AUTH"]["ARGON2_TIME_COST"] = 2
    stronger = make_app(overrides)
    http = stronger.test_client()
    assert location(sign_in(http, "jane@example.org", PASSWORD)) == "/"
    db.session.expire_all()
    new_hash = db.session.get(User, user.id).password_hash
    assert new_hash != old_hash and "t=2" in new_hash and "t=1" in old_hash


def test_a_new_secret_key_ends_every_session_signed_with_the_old_one(client, app, make):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    assert client.get("/").status_code == 200
    app.secret_key = "another-secret-key-that-is-long-enough-9876543210"
    assert location(client.get("/")) == "/login"
    # ... and a key kept as a fallback still verifies the cookies it signed.
    sign_in(client, "jane@example.org")
    old = app.secret_key
    app.secret_key = "a-third-secret-key-that-is-long-enough-5555555555"
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert client.get("/").status_code == 200
