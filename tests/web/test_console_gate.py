"""The console's gate: the exam board's staff only, each with a passkey, from a sign-in made
with it. Everyone else finds no console at all (404), whatever they hold at a centre."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.domain import staff
from idp.errors import InvalidInput
from idp.extensions import db
from idp.models import AuditEvent, AuthSession, StaffRole
from tests.journeys import location, page_text, sign_in
from tests.passkey_authenticator import Authenticator
from tests.passkeys import add_passkey, answer, confirm_for_console, options, passkey_sign_in

CONSOLE_PAGES = ("/console/", "/operator/clients")


def test_the_console_does_not_exist_for_anyone_but_staff(client, app, make, centre):
    # An exams officer holds User Management at her centre, with the passkey it needs, and
    # signed in with it: still no console.
    assert location(sign_in(client, "officer@example.org")) == "/"
    phone = Authenticator()
    assert add_passkey(client, phone).status_code == 200
    officer = app.test_client()
    assert location(passkey_sign_in(officer, phone)) == "/"
    teacher = app.test_client()
    assert location(sign_in(teacher, "donald@example.org")) == "/"
    for browser in (officer, teacher):
        for page in CONSOLE_PAGES:
            assert browser.get(page).status_code == 404, page
        assert browser.post("/console/confirm/options").status_code in (400, 404)
        assert "Console</a>" not in page_text(browser.get("/"))


def test_the_support_desk_has_the_console_but_not_the_operators_pages(client, sign_in_staff):
    sign_in_staff("desk@example.org", role=StaffRole.SUPPORT)
    front = client.get("/console/")
    assert front.status_code == 200
    assert "Clients" not in page_text(front)
    assert client.get("/operator/clients").status_code == 404
    assert 'href="/console/">Console</a>' in page_text(client.get("/"))


def test_an_operator_has_both(operator):
    front = page_text(operator.get("/console/"))
    assert 'href="/operator/clients"' in front
    assert operator.get("/operator/clients").status_code == 200


def test_staff_without_a_passkey_add_one_before_anything_else(client, make):
    user = make.user("new.desk@example.org")
    user.staff_role = StaffRole.SUPPORT
    db.session.commit()
    assert location(sign_in(client, "new.desk@example.org")) == "/"
    for page in ("/", "/console/", "/account/personal"):
        assert location(client.get(page)).startswith("/account/passkey-required"), page
    asking = page_text(client.get("/account/passkey-required"))
    assert "member of the exam board's staff" in asking


def test_a_sign_in_without_the_passkey_must_confirm_with_it(client, make):
    """A password (and a code) can be phished; the console needs the passkey itself, in this
    session: confirming keeps the session and records it."""
    user = make.user("desk@example.org")
    user.staff_role = StaffRole.SUPPORT
    db.session.commit()
    assert location(sign_in(client, "desk@example.org")) == "/"
    phone = Authenticator()
    assert add_passkey(client, phone, page="/account/passkey-required").status_code == 200
    # Signed in with the password only: the passkey was added, never used to sign in.
    assert location(client.get("/console/")) == "/console/confirm?next=/console/"
    assert client.get("/operator/clients").status_code == 404  # support: not theirs at all
    assert "Confirm it is you with your passkey" in page_text(client.get("/console/confirm"))
    sid_before = db.session.scalars(select(AuthSession.sid)).all()
    assert location(confirm_for_console(client, phone)) == "/console/"
    assert client.get("/console/").status_code == 200
    # The same session, now standing for the passkey too.
    live = db.session.scalars(select(AuthSession)).all()
    assert [s.sid for s in live] == sid_before
    assert staff.phishing_resistant(live[0].amr) and "pwd" in live[0].amr
    assert live[0].acr == "2"
    confirmed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.confirmed")
    ).all()
    assert [e.actor_user_id for e in confirmed] == [user.id]


def test_confirming_takes_only_the_staff_members_own_passkey(client, make, app):
    """Another person's passkey (a colleague's, or the attacker's own account's) does not open
    the console in this session."""
    for address in ("desk@example.org", "mallory@example.org"):
        make.user(address)
    mallory_phone = Authenticator()
    mallory = app.test_client()
    assert location(sign_in(mallory, "mallory@example.org")) == "/"
    assert add_passkey(mallory, mallory_phone).status_code == 200

    from idp.domain import users

    users.find_by_email("desk@example.org").staff_role = StaffRole.SUPPORT
    db.session.commit()
    assert location(sign_in(client, "desk@example.org")) == "/"
    assert add_passkey(client, Authenticator(), page="/account/passkey-required").status_code == 200
    asked = options(client, "/console/confirm/options", "/console/confirm")
    assert asked.status_code == 200
    refused = answer(
        client,
        "/console/confirm",
        "/console/confirm",
        mallory_phone.get(asked.get_data(as_text=True)),
    )
    assert refused.status_code == 400
    assert location(client.get("/console/")).startswith("/console/confirm")


def test_taking_the_role_away_ends_the_staff_members_sessions(client, operator, run):
    assert operator.get("/console/").status_code == 200
    result = run("staff", "revoke", "ops@example.org", "--json")
    assert result.exit_code == 0, result.output
    assert operator.get("/console/").status_code in (302, 404)
    assert location(operator.get("/account/personal")).startswith("/login")


def test_no_console_where_passkeys_cannot_be_had(make_app, overrides, make):
    """Served at an IP address, browsers offer no passkeys: the console says so, and opens to
    nobody (not even to a password)."""
    overrides["OIDC"] = {**overrides["OIDC"], "ISSUER": "http://127.0.0.1:5000"}
    app = make_app(overrides)
    browser = app.test_client()
    user = make.user("ops@example.org")
    user.staff_role = StaffRole.OPERATOR
    db.session.commit()
    assert location(sign_in(browser, "ops@example.org")) == "/"
    refused = browser.get("/console/")
    assert refused.status_code == 403
    assert "not available at this address" in page_text(refused)
    assert browser.get("/operator/clients").status_code == 403


def test_the_cli_grants_lists_and_revokes(run, make):
    make.user("desk@example.org", given_name="Dana", family_name="Desk")
    granted = run("staff", "grant", "desk@example.org", "--role", "support", "--json")
    assert granted.exit_code == 0, granted.output
    listed = run("staff", "list", "--json")
    assert '"role": "support"' in listed.output and '"passkeys": 0' in listed.output
    assert run("staff", "grant", "nobody@example.org", "--role", "support").exit_code != 0
    assert run("staff", "grant", "desk@example.org", "--role", "admin").exit_code != 0
    run("staff", "revoke", "desk@example.org")
    assert "No staff." in run("staff", "list").output
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.role_set").order_by(AuditEvent.id)
    ).all()
    assert [(e.details["role"], e.details["previous"]) for e in events] == [
        ("support", None),
        (None, "support"),
    ]


def test_a_reason_is_required_and_kept_tidy():
    with pytest.raises(staff.ReasonRequired):
        staff.clean_reason("   ")
    assert staff.clean_reason("  called \n from the centre ") == "called from the centre"
    assert staff.clean_reason("", required=False) == ""
    with pytest.raises(InvalidInput):
        staff.clean_reason("x" * (staff.REASON_MAX + 1))
