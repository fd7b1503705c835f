"""Invitation and activation: temporary password -> Set password -> emailed code -> home."""

from __future__ import annotations

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, User
from tests.journeys import (
    enter_code,
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


def test_invitation_email_carries_a_sign_in_link_and_a_temporary_password(make, mailbox):
    centre = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.invited("tom@example.org", org=centre, roles=("sfa.teacher",))
    message = mailbox.wait_for("tom@example.org", "Your My Cambridge account")
    assert message["From"] == "My Cambridge <no-reply@idp.example.org>"
    text = text_of(message)
    assert "AA Dummy Centre A (CIC) has created a My Cambridge account for you" in text
    assert "http://localhost/login?email=tom@example.org" in links_in(message)
    temporary = temporary_password(mailbox, "tom@example.org")
    assert len(temporary) >= 12
    assert temporary in html_of(message)


def test_the_whole_activation_journey_ends_on_the_home_page(client, make, mailbox):
    centre = make.org("AA101")
    make.invited("tom@example.org", org=centre, roles=("sfa.teacher",))
    temporary = temporary_password(mailbox, "tom@example.org")

    response = sign_in(client, "tom@example.org", temporary)
    assert location(response) == "/login/set-password"
    assert client.get("/").status_code == 302  # not signed in yet

    response = submit(
        client,
        "/login/set-password",
        {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert location(response) == "/login/verify"
    page = page_text(client.get("/login/verify"))
    assert "We have sent a 6-digit verification code to <strong>t**@example.org</strong>" in page

    response = enter_code(client, mailbox, "tom@example.org")
    assert location(response) == "/"
    assert "Welcome, Tom" in page_text(client.get("/"))

    user = db.session.scalar(db.select(User).where(User.sub.is_not(None)))
    db.session.refresh(user)
    assert user.status == "active" and user.primary_email.verified
    assert not user.must_change_password and user.temp_password_expires_at is None
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"user.invited", "user.password_changed", "user.activated"} <= actions


def test_after_activation_the_new_password_works_and_the_temporary_one_does_not(
    client, app, make, mailbox
):
    make.invited("tom@example.org")
    temporary = temporary_password(mailbox, "tom@example.org")
    sign_in(client, "tom@example.org", temporary)
    submit(
        client, "/login/set-password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    enter_code(client, mailbox, "tom@example.org")

    other = app.test_client()
    refused = sign_in(other, "tom@example.org", temporary)
    assert refused.status_code == 200
    assert error_of(refused) == "Enter a correct email address and password."
    assert location(sign_in(other, "tom@example.org", NEW_PASSWORD)) == "/"


def test_temporary_password_opens_only_the_set_password_page(client, make, mailbox):
    make.invited("tom@example.org")
    sign_in(client, "tom@example.org", temporary_password(mailbox, "tom@example.org"))
    assert client.get("/").status_code == 302
    assert location(client.get("/login/verify")) == "/login/set-password"
    assert client.get("/login/set-password").status_code == 200


def test_set_password_applies_the_policy_and_says_why(client, make, mailbox):
    make.invited("tom.teacher@example.org", given_name="Tom", family_name="Teacher")
    sign_in(
        client, "tom.teacher@example.org", temporary_password(mailbox, "tom.teacher@example.org")
    )
    cases = [
        ("short one", "short one", "Password must be at least 15 characters long."),
        ("Qwerty123456789", "Qwerty123456789", "one of the most common passwords"),
        ("tom.teacher@example.org!", "tom.teacher@example.org!", "must not contain your email"),
        ("Teacher of the year 2026", "Teacher of the year 2026", "must not contain your name"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The passwords do not match."),
    ]
    for password, confirm, message in cases:
        response = submit(
            client, "/login/set-password", {"password": password, "confirm_password": confirm}
        )
        assert response.status_code == 200
        assert message in error_of(response), (password, error_of(response))
    assert "verification code" not in " ".join(mailbox.subjects())


def test_an_expired_temporary_password_says_so_and_a_resent_invitation_works(
    client, app, make, mailbox
):
    user = make.invited("tom@example.org")
    first = temporary_password(mailbox, "tom@example.org")
    clock.advance(app.extensions["idp.settings"].auth.temporary_password_ttl + 1)
    response = sign_in(client, "tom@example.org", first)
    assert "Your temporary password has expired" in error_of(response)

    from idp.domain import invitations

    invitations.invite(user, ttl_seconds=3600)
    db.session.commit()
    second = mailbox.wait_for("tom@example.org", "Your My Cambridge account", count=2)
    replacement = text_of(second).split("Temporary password: ")[1].split()[0]
    assert replacement != first
    assert error_of(sign_in(client, "tom@example.org", first)) == (
        "Enter a correct email address and password."
    )
    assert location(sign_in(client, "tom@example.org", replacement)) == "/login/set-password"


def test_an_authorization_request_started_before_activation_resumes_after_it(client, make, mailbox):
    centre = make.org("AA101")
    make.invited("tom@example.org", org=centre, roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client())
    login_page = rp.follow(rp.authorize())
    response = rp.submit_login(
        login_page, "tom@example.org", temporary_password(mailbox, "tom@example.org")
    )
    assert location(response) == "/login/set-password"
    submit(
        client, "/login/set-password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    callback = rp.follow(enter_code(client, mailbox, "tom@example.org"))
    assert callback.params["state"] == rp.last.state
    tokens = rp.exchange(callback.code).get_json()
    claims = rp.verify_id_token(tokens["id_token"])
    assert claims["amr"] == ["pwd"]
    assert claims["roles"] == ["sfa.teacher"]


def test_a_set_password_step_left_open_elsewhere_dies_when_the_account_is_activated(
    app, make, mailbox
):
    user = make.invited("tom@example.org")
    temporary = temporary_password(mailbox, "tom@example.org")
    stale, owner = app.test_client(), app.test_client()
    assert location(sign_in(stale, "tom@example.org", temporary)) == "/login/set-password"
    form = csrf_token(stale.get("/login/set-password"))  # left open in that browser
    sign_in(owner, "tom@example.org", temporary)
    submit(
        owner, "/login/set-password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert location(enter_code(owner, mailbox, "tom@example.org")) == "/"

    chosen = "someone else chose this one"
    data = {"csrf_token": form, "password": chosen, "confirm_password": chosen}
    assert location(stale.post("/login/set-password", data=data)).startswith("/login?")
    db.session.expire_all()
    assert db.session.get(User, user.id).status == "active"
    assert location(sign_in(app.test_client(), "tom@example.org", NEW_PASSWORD)) == "/"


def test_a_resent_invitation_ends_a_sign_in_begun_with_the_old_temporary_password(
    app, make, mailbox
):
    from idp.domain import invitations

    user = make.invited("tom@example.org")
    old = temporary_password(mailbox, "tom@example.org")
    stale = app.test_client()
    assert location(sign_in(stale, "tom@example.org", old)) == "/login/set-password"
    form = csrf_token(stale.get("/login/set-password"))
    mailbox.clear()
    invitations.invite(user, ttl_seconds=3600)
    db.session.commit()
    chosen = "someone else chose this one"
    data = {"csrf_token": form, "password": chosen, "confirm_password": chosen}
    assert location(stale.post("/login/set-password", data=data)).startswith("/login?")
    new = temporary_password(mailbox, "tom@example.org")
    assert location(sign_in(app.test_client(), "tom@example.org", new)) == "/login/set-password"
