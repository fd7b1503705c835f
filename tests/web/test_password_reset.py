"""Forgotten password: the same answer for every address, a single-use link, everything revoked."""

from __future__ import annotations

from idp import clock
from idp.extensions import db
from idp.models import AuthSession, Token, User
from tests.journeys import (
    confirm_address_change,
    error_of,
    location,
    page_text,
    sign_in,
    submit,
    temporary_password,
)
from tests.mailbox import html_of, links_in, text_of
from tests.oidc_helpers import RelyingParty, csrf_token

NEW_PASSWORD = "lantern orchard velvet"
VICTIM = "teacher@school.example.org"
SQUATTER_PASSWORD = "attacker chose this one"


def _reset_link(mailbox, address: str, count: int = 1) -> str:
    message = mailbox.wait_for(address, "Reset your My Cambridge password", count=count)
    link = next(u for u in links_in(message) if "/password/reset/" in u)
    return link.removeprefix("http://localhost")


def _follow(browser, link: str) -> str:
    """Open the emailed link: the token goes into the session, the address loses it."""
    opened = browser.get(link)
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    assert location(opened) == "/password/reset"
    return "/password/reset"


def test_the_answer_is_the_same_whether_or_not_the_account_exists(client, make, mailbox):
    make.user("jane@example.org")
    known = submit(client, "/password/forgot", {"email": "jane@example.org"})
    unknown = submit(client, "/password/forgot", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, e: page_text(r).replace(e, "EMAIL")  # noqa: E731
    assert strip(known, "jane@example.org") == strip(unknown, "nobody@example.org")
    assert "we have sent it a link" in page_text(known)
    _reset_link(mailbox, "jane@example.org")
    assert mailbox.to("nobody@example.org") == []


def test_reset_sets_the_password_and_revokes_every_session_and_token(client, app, make, mailbox):
    make.user("jane@example.org", org=make.org(), roles=("sfa.teacher",))
    rp = RelyingParty(app.test_client(), make.client())
    tokens = rp.tokens("jane@example.org", scope="openid offline_access")
    assert location(sign_in(client, "jane@example.org")) == "/"

    submit(app.test_client(), "/password/forgot", {"email": "JANE@example.org"})
    link = _reset_link(mailbox, "jane@example.org")
    reset_browser = app.test_client()
    response = submit(
        reset_browser,
        _follow(reset_browser, link),
        {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert location(response).startswith("/login?email=jane")
    mailbox.wait_for("jane@example.org", "Your My Cambridge password was changed")

    assert client.get("/").status_code == 302  # the other browser is signed out
    assert (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(AuthSession)
            .where(AuthSession.ended_at.is_(None))
        )
        == 0
    )
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert (
        db.session.scalar(
            db.select(db.func.count()).select_from(Token).where(Token.access_revoked_at.is_(None))
        )
        == 0
    )
    assert error_of(sign_in(reset_browser, "jane@example.org")) == (
        "Enter a correct email address and password."
    )
    assert location(sign_in(reset_browser, "jane@example.org", NEW_PASSWORD)) == "/"


def test_a_reset_link_works_once_and_expires(client, app, make, mailbox):
    make.user("jane@example.org")
    submit(client, "/password/forgot", {"email": "jane@example.org"})
    link = _reset_link(mailbox, "jane@example.org")
    page = _follow(client, link)
    submit(client, page, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    used = client.get(link)
    assert used.status_code == 410
    assert "This link has expired or has already been used." in page_text(used)
    assert client.get("/password/reset").status_code == 410  # nothing left in the session

    clock.advance(61)
    submit(client, "/password/forgot", {"email": "jane@example.org"})
    second = _reset_link(mailbox, "jane@example.org", count=2)
    clock.advance(app.extensions["idp.settings"].auth.password_reset_ttl + 1)
    assert client.get(second).status_code == 410
    tampered = second[:-3] + ("AAA" if not second.endswith("AAA") else "BBB")
    clock.reset()
    assert client.get(tampered).status_code == 410


def test_reset_applies_the_password_policy(client, make, mailbox):
    make.user("jane@example.org")
    submit(client, "/password/forgot", {"email": "jane@example.org"})
    link = _reset_link(mailbox, "jane@example.org")
    page = _follow(client, link)
    response = submit(client, page, {"password": "too short", "confirm_password": "too short"})
    assert error_of(response) == "Password must be at least 15 characters long."
    assert client.get(page).status_code == 200  # still usable after a refused attempt
    assert "/password/reset/" not in page_text(client.get(page))  # no token in the page


def test_bad_address_format_is_an_error_not_a_silent_success(client):
    response = submit(client, "/password/forgot", {"email": "not an address"})
    assert "Enter an email address in the correct format" in error_of(response)


def test_the_strength_meter_estimate_needs_the_csrf_token_and_gives_advice(client):
    page = client.get("/signup")
    assert 'id="password-meter"' in page_text(page) and "password-meter.js" in page_text(page)
    assert client.post("/password/strength", data={"password": "x"}).status_code == 400
    token = csrf_token(page)
    weak = client.post(
        "/password/strength", data={"password": "password1234567"}, headers={"X-CSRFToken": token}
    ).get_json()
    strong = client.post(
        "/password/strength",
        data={"password": "lantern orchard velvet"},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert weak["score"] <= 1 and weak["label"] in ("Very weak", "Weak") and weak["warning"]
    assert strong == {"score": 4, "label": "Strong", "warning": "", "suggestions": []}


def test_asking_again_and_again_sends_one_link_a_minute(client, make, mailbox):
    make.user("jane@example.org")
    for _ in range(3):
        assert submit(client, "/password/forgot", {"email": "jane@example.org"}).status_code == 200
    _reset_link(mailbox, "jane@example.org")
    assert len(mailbox.to("jane@example.org")) == 1  # the same page each time, one email
    clock.advance(61)
    submit(client, "/password/forgot", {"email": "jane@example.org"})
    _reset_link(mailbox, "jane@example.org", count=2)


def test_the_owner_of_an_address_can_recover_it_from_an_unverified_sign_up(app, make, mailbox):
    squat = {
        "given_name": "Mallory",
        "family_name": "Squatter",
        "email": VICTIM,
        "password": SQUATTER_PASSWORD,
        "confirm_password": SQUATTER_PASSWORD,
    }
    assert location(submit(app.test_client(), "/signup", squat)) == "/login/verify"
    mailbox.wait_for(VICTIM, "verification code")
    mailbox.clear()
    mine = {
        "given_name": "Tina",
        "family_name": "Teacher",
        "email": VICTIM,
        "password": "copper meadow lantern hush",
        "confirm_password": "copper meadow lantern hush",
    }
    submit(app.test_client(), "/signup", mine)
    mailbox.wait_for(VICTIM, "You already have a My Cambridge account")

    known = submit(app.test_client(), "/password/forgot", {"email": VICTIM})
    unknown = submit(app.test_client(), "/password/forgot", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert page_text(known).replace(VICTIM, "EMAIL") == page_text(unknown).replace(
        "nobody@example.org", "EMAIL"
    )
    subjects = [str(m["Subject"]) for m in mailbox.to(VICTIM)]
    assert any("Reset your My Cambridge password" in s for s in subjects), subjects
    message = mailbox.wait_for(VICTIM, "Reset your My Cambridge password")
    assert "Mallory" not in text_of(message) and "Mallory" not in html_of(message)

    browser = app.test_client()
    page = _follow(browser, _reset_link(mailbox, VICTIM))
    # The name is the squatter's: the owner gives their own with the new password.
    form = page_text(browser.get(page))
    assert 'id="given_name"' in form and "Mallory" not in form
    nameless = submit(browser, page, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert nameless.status_code == 200 and error_of(nameless) == "Enter the first or given name."
    response = submit(
        browser,
        page,
        {
            "given_name": "Tina",
            "family_name": "Teacher",
            "password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert location(response).startswith("/login?email=teacher")
    changed = mailbox.wait_for(VICTIM, "Your My Cambridge password was changed")
    assert "Mallory" not in text_of(changed)
    assert error_of(sign_in(app.test_client(), VICTIM, SQUATTER_PASSWORD)) == (
        "Enter a correct email address and password."
    )
    assert location(sign_in(browser, VICTIM, NEW_PASSWORD)) == "/"
    account = db.session.scalar(db.select(User))
    assert account.status == "active" and account.primary_email.verified
    assert account.name == "Tina Teacher"
    assert "Welcome, Tina" in page_text(browser.get("/"))


def test_an_invited_person_who_never_entered_their_code_can_reset_the_password(
    client, app, make, mailbox
):
    make.invited("tom@example.org", org=make.org(), roles=("sfa.teacher",))
    sign_in(client, "tom@example.org", temporary_password(mailbox, "tom@example.org"))
    chosen = "pewter harbour quietly sings"
    assert (
        location(
            submit(client, "/login/set-password", {"password": chosen, "confirm_password": chosen})
        )
        == "/login/verify"
    )
    mailbox.wait_for("tom@example.org", "verification code")  # ... and never entered

    submit(app.test_client(), "/password/forgot", {"email": "tom@example.org"})
    browser = app.test_client()
    response = submit(
        browser,
        _follow(browser, _reset_link(mailbox, "tom@example.org")),
        {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert location(response).startswith("/login?email=tom")
    assert error_of(sign_in(app.test_client(), "tom@example.org", chosen)) == (
        "Enter a correct email address and password."
    )
    assert location(sign_in(browser, "tom@example.org", NEW_PASSWORD)) == "/"
    account = db.session.scalar(db.select(User))
    db.session.refresh(account)
    assert account.status == "active" and account.primary_email.verified


def test_an_invitation_not_taken_up_gives_way_to_a_reset_link(app, make, mailbox):
    make.invited("tom@example.org")
    temporary = temporary_password(mailbox, "tom@example.org")
    submit(app.test_client(), "/password/forgot", {"email": "tom@example.org"})
    browser = app.test_client()
    submit(
        browser,
        _follow(browser, _reset_link(mailbox, "tom@example.org")),
        {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    refused = sign_in(app.test_client(), "tom@example.org", temporary)
    assert error_of(refused) == "Enter a correct email address and password."
    assert location(sign_in(browser, "tom@example.org", NEW_PASSWORD)) == "/"


def test_a_suspended_account_is_sent_no_reset_link(client, make, mailbox):
    sue = make.user("sue@example.org")
    sue.status = "suspended"
    db.session.commit()
    assert submit(client, "/password/forgot", {"email": "sue@example.org"}).status_code == 200
    assert mailbox.to("sue@example.org") == []


def test_a_link_dies_when_the_main_address_changes(app, make, centre, mailbox):
    """Invited at a mistyped address whose reader chose a password but never entered the code,
    then asked for a link; the officer corrects the address. The link to the old address must
    not activate the account or vouch for the new one, which nobody has proved."""
    invited = make.invited("wrong@example.org", org=centre, roles=("sfa.teacher",))
    browser = app.test_client()
    sign_in(browser, "wrong@example.org", temporary_password(mailbox, "wrong@example.org"))
    chosen = "pewter harbour quietly sings"
    submit(browser, "/login/set-password", {"password": chosen, "confirm_password": chosen})
    submit(app.test_client(), "/password/forgot", {"email": "wrong@example.org"})
    stale = _reset_link(mailbox, "wrong@example.org")
    # And an active account's link, sent before its officer changes its address.
    submit(app.test_client(), "/password/forgot", {"email": "donald@example.org"})
    donalds = _reset_link(mailbox, "donald@example.org")

    officer = app.test_client()
    assert location(sign_in(officer, "officer@example.org")) == "/"
    donald = db.session.scalar(db.select(User).where(User.given_name == "Donald"))
    for person, address in ((invited, "right@example.org"), (donald, "donald.d@example.org")):
        view = f"/organisation/AA101/users/{person.sub}"
        submit(officer, f"{view}/email", {"email": address}, page_url=view)
    # Asking for the change ends the unproved account's password at once: its link dies.
    assert app.test_client().get(stale).status_code == 410
    for address in ("right@example.org", "donald.d@example.org"):
        confirm_address_change(app.test_client(), mailbox, address)

    for link in (stale, donalds):
        opened = app.test_client().get(link)
        assert opened.status_code == 410
        assert "This link has expired or has already been used" in page_text(opened)
    db.session.expire_all()
    account = db.session.get(User, invited.id)
    # The link to the new address proved it; the account waits for its new invitation.
    assert account.status == "invited" and account.email == "right@example.org"
    assert account.password_hash is not None and account.must_change_password


def test_the_new_password_is_checked_against_the_name_given_with_it(app, mailbox):
    squat = "attacker chose this one"
    submit(
        app.test_client(),
        "/signup",
        {
            "given_name": "Mallory",
            "family_name": "Squatter",
            "email": VICTIM,
            "password": squat,
            "confirm_password": squat,
        },
    )
    submit(app.test_client(), "/password/forgot", {"email": VICTIM})
    browser = app.test_client()
    page = _follow(browser, _reset_link(mailbox, VICTIM))
    named = "tabitha tregothnan lantern"
    fields = {"given_name": "Tabitha", "family_name": "Tregothnan"}
    response = submit(browser, page, {**fields, "password": named, "confirm_password": named})
    assert response.status_code == 200
    assert error_of(response) == "Password must not contain your name."
    # The squatter's name is not the owner's: it does not stand in the way.
    mallory = "mallory squatter lantern"
    accepted = submit(browser, page, {**fields, "password": mallory, "confirm_password": mallory})
    assert location(accepted).startswith("/login?email=teacher")
