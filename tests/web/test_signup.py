"""Self sign-up: an account with no organisation and no roles, after an emailed code."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.models import User
from tests.journeys import enter_code, error_of, location, page_text, submit
from tests.mailbox import html_of, text_of

FORM = {
    "given_name": "Sam",
    "family_name": "Self",
    "email": "sam@example.org",
    "password": "lantern orchard velvet",
    "confirm_password": "lantern orchard velvet",
}


def test_sign_up_verify_and_land_on_a_home_page_that_explains_what_next(client, mailbox):
    assert "Create an account" in page_text(client.get("/login"))
    response = submit(client, "/signup", FORM)
    assert location(response) == "/login/verify"
    assert client.get("/").status_code == 302
    assert location(enter_code(client, mailbox, "sam@example.org")) == "/"
    home = page_text(client.get("/"))
    assert "Your account is not part of a centre yet" in home
    assert 'class="tile__link" href=' not in home  # no usable tile
    user = db.session.scalar(db.select(User))
    assert user.origin == "self" and user.status == "active" and user.memberships == []


def test_an_address_with_an_account_gets_the_same_pages_and_its_owner_a_notice(
    client, app, make, mailbox
):
    owner = make.user("taken@example.org")
    new = submit(client, "/signup", FORM)
    taken = submit(app.test_client(), "/signup", {**FORM, "email": "taken@example.org"})
    assert location(new) == location(taken) == "/login/verify"
    # The session cookie is signed, not encrypted; the pending sign-up in it is encrypted,
    # so it does not show whose account the address belongs to.
    cookie = taken.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    state = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert owner.sub not in str(state) and "taken@example.org" not in str(state)
    notice = mailbox.wait_for("taken@example.org", "You already have a My Cambridge account")
    assert not re.search(r"\b\d{6}\b", text_of(notice))
    browser = app.test_client()
    submit(browser, "/signup", {**FORM, "email": "taken@example.org"})
    for code in ("000000", "123456", "999999"):
        response = submit(browser, "/login/verify", {"code": code})
        assert error_of(response).startswith("The code is not correct.")
    assert browser.get("/").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 2


def test_a_taken_address_answers_like_a_new_one_at_every_step_of_the_code_page(app, make, mailbox):
    taken, fresh = (
        "someone.with.a.long.address@example.org",
        "another.one.with.a.long.add@example.org",
    )
    assert len(taken) == len(fresh)
    make.user(taken)
    answers: dict[str, list[object]] = {}
    for address in (fresh, taken):
        browser = app.test_client()
        signed_up = submit(browser, "/signup", {**FORM, "email": address})
        # (The whole cookie is compressed, so its length varies by a byte or two either way.)
        cookie = signed_up.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        state = app.session_interface.get_signing_serializer(app).loads(cookie)
        resend = page_text(submit(browser, "/login/verify", {"action": "resend"}))
        wrong = [error_of(submit(browser, "/login/verify", {"code": "000000"})) for _ in range(5)]
        answers[address] = [len(state["pending"]), "Wait a minute" in resend, *wrong]
    assert answers[fresh] == answers[taken]
    assert answers[fresh][1] is True  # the code sent a moment ago still works
    assert "Too many wrong codes" in str(answers[fresh][-1])


def test_sign_up_checks_every_field(client):
    response = submit(
        client,
        "/signup",
        {
            "given_name": "",
            "family_name": "Self",
            "email": "nope",
            "password": "short",
            "confirm_password": "short",
        },
    )
    html = page_text(response)
    assert "Enter the first or given name." in html
    assert "Enter an email address in the correct format" in html
    assert "Password must be at least 15 characters long." in html
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def test_sign_up_can_be_switched_off(make_app, overrides):
    overrides["AUTH"]["SELF_SIGNUP"] = False
    closed = make_app(overrides)
    http = closed.test_client()
    assert http.get("/signup").status_code == 404
    assert "Create an account" not in http.get("/login").get_data(as_text=True)


def test_mail_to_an_address_not_yet_verified_does_not_repeat_the_name_typed_at_sign_up(
    app, make, mailbox
):
    """Names are free text: one could be a phishing line inside our own, genuine email."""
    lure = {
        **FORM,
        "given_name": "Your account is locked. Unlock it at https://evil.example/unlock",
        "family_name": "-",
    }
    make.user("taken@example.org")
    for address, subject in (
        ("head.teacher@school.example.org", "verification code"),
        ("taken@example.org", "You already have a My Cambridge account"),
    ):
        signed_up = submit(app.test_client(), "/signup", {**lure, "email": address})
        assert location(signed_up) == "/login/verify"
        message = mailbox.wait_for(address, subject)
        assert "evil.example" not in text_of(message)
        assert "evil.example" not in html_of(message)
        assert text_of(message).startswith("Hello,")
