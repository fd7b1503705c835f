"""Passkeys through the pages, as a browser's script drives them: options asked for with the
page's CSRF token in a header, the answer sent as a form. Adding one needs a recent sign-in;
signing in with one is two factors (``acr`` "2", no emailed code); a refused one is audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, Passkey
from tests.journeys import location, page_text, sign_in
from tests.mailbox import text_of
from tests.oidc_helpers import RelyingParty, csrf_token
from tests.passkey_authenticator import Authenticator
from tests.passkeys import add_passkey, answer, options, passkey_sign_in


@pytest.fixture
def overrides(overrides):
    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "new_device"
    return overrides


def signed_in_with_passkey(make, mailbox, client, address="pat@example.org"):
    """An account signed in (password and emailed code) in ``client``, with a passkey."""
    user = make.user(address, given_name="Pat")
    from tests.journeys import enter_code

    assert location(sign_in(client, address)) == "/login/verify"
    assert location(enter_code(client, mailbox, address)) == "/"
    phone = Authenticator()
    added = add_passkey(client, phone)
    # The first passkey comes with recovery codes, for the day the device is lost.
    assert added.status_code == 200, page_text(added)[:500]
    assert "Save your recovery codes" in page_text(added)
    return user, phone


def test_add_a_passkey_and_be_told_by_email(client, make, mailbox):
    user, _phone = signed_in_with_passkey(make, mailbox, client)
    page = page_text(client.get("/account/security"))
    assert "My phone" in page and "Not used yet" in page
    assert "You have 10 unused recovery codes." in page
    message = mailbox.wait_for("pat@example.org", "A passkey was added")
    assert "My phone" in text_of(message)
    (passkey,) = db.session.scalars(select(Passkey).where(Passkey.user_id == user.id))
    assert passkey.name == "My phone"


def test_adding_a_passkey_needs_a_recent_sign_in(client, make, mailbox):
    clock.freeze()
    signed_in_with_passkey(make, mailbox, client)
    clock.advance(601)
    refused = options(
        client, "/account/security/passkeys/options", "/account/security", name="Second"
    )
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "Sign in again before adding a passkey."}
    # Nor can an answer be sent straight to the form.
    sent = answer(client, "/account/security/passkeys", "/account/security", "{}", name="Second")
    assert location(sent) == "/account/security"
    assert db.session.scalar(select(Passkey.id).where(Passkey.name == "Second")) is None
    page = page_text(client.get("/account/security"))
    assert "Sign in again to add a passkey" in page
    # Signing in again (the password: this browser is known) opens the door again.
    again = client.get("/login?again=1&next=/account/security")
    assert again.status_code == 200 and 'value="pat@example.org"' in page_text(again)
    token = csrf_token(again)
    back = client.post(
        "/login",
        data={"csrf_token": token, "email": "pat@example.org", "password": "correct horse battery",
              "next": "/account/security"},
    )  # fmt: skip
    assert location(back) == "/login/passkey-step"  # the account has a passkey now


def test_the_options_need_the_csrf_token(client, make, mailbox):
    signed_in_with_passkey(make, mailbox, client)
    client.get("/account/security")
    refused = client.post("/account/security/passkeys/options", data={"name": "x"})
    assert refused.status_code == 400
    assert client.post("/login/passkey/options").status_code == 400


def test_an_invalid_name_is_refused_before_the_ceremony(client, make, mailbox):
    signed_in_with_passkey(make, mailbox, client)
    refused = options(client, "/account/security/passkeys/options", "/account/security", name=" ")
    assert refused.status_code == 400
    assert "Enter a name for the passkey" in refused.get_json()["error"]


def test_sign_in_with_a_passkey_is_two_factors_and_asks_for_no_code(app, client, make, mailbox):
    user, phone = signed_in_with_passkey(make, mailbox, client)
    rp = RelyingParty(app.test_client(), make.client())
    browser = rp.http
    page = rp.follow(rp.authorize(acr_values="2"))
    ix = re.search(r'name="ix" value="([^"]+)"', page.get_data(as_text=True))
    assert ix
    codes_before = len(mailbox.to("pat@example.org"))
    done = passkey_sign_in(browser, phone, ix=ix.group(1))
    callback = rp.follow(done)
    claims = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
    assert claims["sub"] == user.sub
    assert claims["amr"] == ["hwk", "user", "mfa"]
    assert claims["acr"] == "2"
    assert len(mailbox.to("pat@example.org")) == codes_before  # no emailed code
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "sign_in.succeeded")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.details["amr"] == ["hwk", "user", "mfa"]


def test_a_challenge_belongs_to_the_browser_that_asked(app, client, make, mailbox):
    _user, phone = signed_in_with_passkey(make, mailbox, client)
    victim = app.test_client()
    asked = options(victim, "/login/passkey/options", "/login")
    # An attacker's browser sends an answer to the victim's challenge: it has no handle.
    attacker = app.test_client()
    sent = answer(attacker, "/login/passkey", "/login", phone.get(asked.get_data(as_text=True)))
    assert sent.status_code == 400
    assert "took too long" in page_text(sent)
    assert attacker.get("/").status_code == 302


def test_an_answer_is_used_once(app, make, mailbox):
    client = app.test_client()
    _user, phone = signed_in_with_passkey(make, mailbox, client)
    browser = app.test_client()
    asked = options(browser, "/login/passkey/options", "/login")
    credential = phone.get(asked.get_data(as_text=True))
    # The session cookie as it was with the challenge in it: replayed after the sign-in.
    cookie = browser.get_cookie("idp_session")
    assert cookie is not None
    assert location(answer(browser, "/login/passkey", "/login", credential)) == "/"
    replay = app.test_client()
    replay.set_cookie("idp_session", cookie.value)
    again = answer(replay, "/login/passkey", "/login", credential)
    assert again.status_code == 400
    assert replay.get("/").status_code == 302


def test_a_cloned_passkey_is_refused_and_audited(app, client, make, mailbox):
    user, phone = signed_in_with_passkey(make, mailbox, client)
    copy = phone.clone()
    assert location(passkey_sign_in(app.test_client(), phone)) == "/"
    refused = passkey_sign_in(app.test_client(), copy)
    assert refused.status_code == 400
    assert "looks like a copy of another" in page_text(refused)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_in.passkey_refused")
    ).one()
    assert event.actor_user_id == user.id
    assert event.details["reason"] == "PasskeyCloned"


def test_a_passkey_made_for_another_site_is_refused(app, client, make, mailbox):
    _user, phone = signed_in_with_passkey(make, mailbox, client)
    browser = app.test_client()
    asked = options(browser, "/login/passkey/options", "/login")
    sent = answer(
        browser,
        "/login/passkey",
        "/login",
        phone.get(asked.get_data(as_text=True), rp_id="sso.example.net"),
    )
    assert sent.status_code == 400
    assert browser.get("/").status_code == 302


def test_rename_and_remove_with_a_question_first(client, make, mailbox):
    user, _phone = signed_in_with_passkey(make, mailbox, client)
    passkey = db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)).one()
    page = f"/account/security/passkeys/{passkey.id}/rename"
    renamed = answer(client, page, page, "", name="Work laptop")
    assert location(renamed) == "/account/security"
    db.session.refresh(passkey)
    assert passkey.name == "Work laptop"

    remove = f"/account/security/passkeys/{passkey.id}/remove"
    question = client.get(remove)
    assert "Remove the passkey “Work laptop”?" in page_text(question)
    gone = client.post(remove, data={"csrf_token": csrf_token(question), "confirm": "yes"})
    assert location(gone) == "/account/security"
    assert db.session.scalar(select(Passkey.id).where(Passkey.user_id == user.id)) is None
    message = mailbox.wait_for("pat@example.org", "A passkey was removed")
    assert "Work laptop" in text_of(message)


def test_nobody_reaches_another_persons_passkey(app, client, make, mailbox):
    user, _phone = signed_in_with_passkey(make, mailbox, client)
    passkey = db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)).one()
    other = app.test_client()
    signed_in_with_passkey(make, mailbox, other, "mallory@example.org")
    for action in ("rename", "remove"):
        url = f"/account/security/passkeys/{passkey.id}/{action}"
        assert other.get(url).status_code == 404
        token = csrf_token(other.get("/account/security"))
        sent = other.post(url, data={"csrf_token": token, "confirm": "yes", "name": "mine"})
        assert sent.status_code == 404
    db.session.refresh(passkey)
    assert passkey.name == "My phone"


def test_a_passkey_is_the_step_after_a_password(app, client, make, mailbox):
    _user, phone = signed_in_with_passkey(make, mailbox, client)
    browser = app.test_client()
    assert location(sign_in(browser, "pat@example.org")) == "/login/passkey-step"
    assert browser.get("/").status_code == 302  # not signed in yet
    asked = options(browser, "/login/passkey-step/options", "/login/passkey-step")
    done = answer(
        browser,
        "/login/passkey-step",
        "/login/passkey-step",
        phone.get(asked.get_data(as_text=True)),
    )
    assert location(done) == "/"
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "sign_in.succeeded")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.details["amr"] == ["pwd", "hwk", "user", "mfa"]


def test_the_step_after_a_password_takes_no_one_elses_passkey(app, client, make, mailbox):
    signed_in_with_passkey(make, mailbox, client)
    other = app.test_client()
    _mallory, mallorys = signed_in_with_passkey(make, mailbox, other, "mallory@example.org")
    browser = app.test_client()
    assert location(sign_in(browser, "pat@example.org")) == "/login/passkey-step"
    asked = options(browser, "/login/passkey-step/options", "/login/passkey-step")
    sent = answer(
        browser,
        "/login/passkey-step",
        "/login/passkey-step",
        mallorys.get(asked.get_data(as_text=True)),
    )
    assert sent.status_code == 400
    assert browser.get("/").status_code == 302


def test_the_sign_in_page_offers_passkeys_only_to_its_script(client):
    page = page_text(client.get("/login"))
    assert "data-passkey-section hidden" in page
    assert 'autocomplete="username webauthn"' in page
    assert "/static/passkeys.js" in page


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:5000"])
def test_no_passkeys_where_the_address_is_an_ip_address(make_app, overrides, issuer):
    overrides["OIDC"] = {**overrides["OIDC"], "ISSUER": issuer}
    app = make_app(overrides)
    client = app.test_client()
    login = client.get("/login")
    assert "Sign in with a passkey" not in page_text(login)
    asked = client.post("/login/passkey/options", headers={"X-CSRFToken": csrf_token(login)})
    assert asked.status_code == 404
