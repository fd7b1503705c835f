"""The console's People pages, as the support desk uses them and as an attacker tries them:
found by address or by name in a centre; the person's page shows what exists, never a secret;
every action asks first, needs a reason, is recorded, and never reaches a staff account from
the support desk."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from idp import clock
from idp.domain import audit, throttling, totp
from idp.extensions import db
from idp.models import AuditEvent, AuthSession, EmailAddress, Passkey, StaffRole, User, UserStatus
from tests.journeys import location, page_text, sign_in
from tests.mailbox import text_of
from tests.oidc_helpers import csrf_token

ACTIONS = (
    "resend-invitation",
    "reset-link",
    "clear-backoff",
    "end-sessions",
    "remove-factor",
    "suspend",
    "restore",
)


@pytest.fixture
def person(make):
    org = make.org("AA101", name="Dummy Centre A")
    tom = make.user(
        "tom@example.org", given_name="Tom", family_name="Teacher", org=org, roles=("sfa.teacher",)
    )
    db.session.add(EmailAddress(user_id=tom.id, address="tom.home@example.org"))
    db.session.commit()
    return tom


@pytest.fixture
def desk(client, sign_in_staff):
    sign_in_staff("desk@example.org", role=StaffRole.SUPPORT, given_name="Dana")
    return client


def _staff_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _confirm(browser, sub: str, action: str, **form: str):
    """The action's question page, then its form sent with ``form``."""
    query = {k: form[k] for k in ("factor", "passkey") if k in form}
    page = browser.get(f"/console/people/{sub}/{action}", query_string=query)
    assert page.status_code == 200, page_text(page)[:300]
    data = {"csrf_token": csrf_token(page), "confirm": "yes", **form}
    return browser.post(f"/console/people/{sub}/{action}", data=data)


def _add_passkey(user: User, name: str = "Work laptop") -> Passkey:
    key = Passkey(
        user_id=user.id, credential_id=f"cred-{name}", public_key=b"\x01PUBKEYBYTES", name=name
    )
    db.session.add(key)
    db.session.commit()
    return key


def test_found_by_any_address_exactly_and_by_name_in_a_centre(desk, person):
    for address in ("tom@example.org", "TOM.HOME@example.org"):
        found = desk.get("/console/people", query_string={"address": address})
        assert location(found) == f"/console/people/{person.sub}"
    missing = desk.get("/console/people", query_string={"address": "tom@example"})
    assert "No account has this address." in page_text(missing)
    listed = page_text(desk.get("/console/people", query_string={"name": "tom", "centre": "aa101"}))
    assert f'href="/console/people/{person.sub}"' in listed
    other = page_text(desk.get("/console/people", query_string={"name": "tom", "centre": "ZZ999"}))
    assert "No centre has this number." in other


def test_the_person_page_shows_what_exists_and_never_a_secret(desk, app, person):
    tom = app.test_client()
    tom.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"
    assert location(sign_in(tom, "tom@example.org")) == "/"
    secret = totp.new_secret()
    codes = totp.enable(person, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    key = _add_passkey(person)
    db.session.commit()
    page = page_text(desk.get(f"/console/people/{person.sub}"))
    assert "tom.home@example.org – not confirmed" in page
    assert "Submit for Assessment: Teacher" in page and "sfa.teacher" not in page
    assert "Work laptop" in page and "10 left" in page
    assert "Firefox on Linux" in page
    for secret_text in (
        secret,
        pyotp.TOTP(secret).now(),
        *codes,
        *(c.replace("-", "") for c in codes),
        key.credential_id,
        "PUBKEYBYTES",
        person.password_hash,
        person.totp_secret_enc,
    ):
        assert secret_text not in page, secret_text


def test_nobody_but_staff_finds_any_page_or_action(client, person, make):
    make.user("nosy@example.org")
    assert location(sign_in(client, "nosy@example.org")) == "/"
    before = (
        person.status,
        db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())),
    )
    assert client.get("/console/people").status_code == 404
    assert client.get(f"/console/people/{person.sub}").status_code == 404
    token = csrf_token(client.get("/account/personal"))
    for action in ACTIONS:
        assert client.get(f"/console/people/{person.sub}/{action}").status_code == 404
        posted = client.post(
            f"/console/people/{person.sub}/{action}",
            data={"csrf_token": token, "confirm": "yes", "reason": "x", "factor": "totp"},
        )
        assert posted.status_code == 404, action
    db.session.expire_all()
    after = (person.status, db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())))
    assert after == before


def test_the_support_desk_cannot_act_on_an_operators_account(desk, make, app):
    chief = make.user("chief@example.org", given_name="Chief")
    chief.staff_role = StaffRole.OPERATOR
    db.session.commit()
    token = csrf_token(desk.get("/console/people"))
    for action in ACTIONS:
        posted = desk.post(
            f"/console/people/{chief.sub}/{action}",
            data={"csrf_token": token, "confirm": "yes", "reason": "Because", "factor": "totp"},
        )
        assert location(posted) == f"/console/people/{chief.sub}", action
    db.session.expire_all()
    assert chief.status == UserStatus.ACTIVE
    assert not [e for e in _staff_events("staff.account_suspended")]
    assert not [e for e in _staff_events("staff.backoff_cleared")]
    page = page_text(desk.get(f"/console/people/{chief.sub}"))
    assert "only an operator can do this" in page
    assert "/suspend" not in page


def test_nobody_acts_on_their_own_account(operator):
    me = db.session.scalar(select(User).where(User.staff_role == StaffRole.OPERATOR))
    assert location(operator.get(f"/console/people/{me.sub}/end-sessions")).endswith(me.sub)
    token = csrf_token(operator.get("/console/people"))
    posted = operator.post(
        f"/console/people/{me.sub}/end-sessions",
        data={"csrf_token": token, "confirm": "yes", "reason": "Testing"},
    )
    assert location(posted) == f"/console/people/{me.sub}"
    assert "own account" in page_text(operator.get(f"/console/people/{me.sub}"))
    assert not _staff_events("staff.sessions_ended")
    assert operator.get("/console/").status_code == 200  # still signed in


def test_without_the_confirmation_or_a_reason_nothing_changes(desk, person):
    token = csrf_token(desk.get("/console/people"))
    unconfirmed = desk.post(
        f"/console/people/{person.sub}/suspend", data={"csrf_token": token, "reason": "Stolen"}
    )
    assert unconfirmed.status_code == 200
    assert "Suspend the whole account of Tom Teacher?" in page_text(unconfirmed)
    empty = _confirm(desk, person.sub, "suspend", reason="   ")
    assert empty.status_code == 400
    assert "Say why" in page_text(empty)
    db.session.expire_all()
    assert person.status == UserStatus.ACTIVE
    assert not _staff_events("staff.account_suspended")


def test_suspend_signs_out_everywhere_and_restore_brings_back(desk, app, person):
    tom = app.test_client()
    assert location(sign_in(tom, "tom@example.org")) == "/"
    done = _confirm(desk, person.sub, "suspend", reason="Reported stolen laptop")
    assert location(done) == f"/console/people/{person.sub}"
    db.session.expire_all()
    assert person.status == UserStatus.SUSPENDED
    assert location(tom.get("/")).startswith("/login")
    (event,) = _staff_events("staff.account_suspended")
    assert event.details["reason"] == "Reported stolen laptop"
    assert event.target_id == person.sub
    assert _confirm(desk, person.sub, "restore", reason="Owner confirmed").status_code == 302
    told = page_text(desk.get(f"/console/people/{person.sub}"))
    assert "suspended the whole account of Tom Teacher. Reason: Reported stolen laptop" in told
    db.session.expire_all()
    assert person.status == UserStatus.ACTIVE


def test_end_sessions_signs_the_person_out(desk, app, person):
    tom = app.test_client()
    assert location(sign_in(tom, "tom@example.org")) == "/"
    assert "Where they are signed in" in page_text(desk.get(f"/console/people/{person.sub}"))
    assert location(_confirm(desk, person.sub, "end-sessions", reason="Shared computer"))
    live = db.session.scalars(
        select(AuthSession).where(AuthSession.user_id == person.id, AuthSession.ended_at.is_(None))
    ).all()
    assert live == []
    assert location(tom.get("/")).startswith("/login")


def test_a_reset_link_goes_to_the_person_never_to_the_agent(desk, person, mailbox):
    done = _confirm(desk, person.sub, "reset-link", reason="Forgot password")
    assert location(done) == f"/console/people/{person.sub}"
    message = mailbox.wait_for("tom@example.org", "password")
    assert "/reset/" in text_of(message) or "reset" in text_of(message).lower()
    follow = page_text(desk.get(f"/console/people/{person.sub}"))
    assert "/password/reset/" not in follow
    assert _staff_events("staff.reset_link_sent")


def test_the_invitation_is_resent_with_a_new_temporary_password(desk, make, mailbox):
    invited = make.invited("new@example.org", org=make.org("BB202"), roles=("sfa.teacher",))
    mailbox.clear()
    old_hash = invited.password_hash
    assert location(_confirm(desk, invited.sub, "resend-invitation", reason="Lost the email"))
    mailbox.wait_for("new@example.org", "Your My Cambridge account")
    db.session.expire_all()
    assert invited.password_hash != old_hash
    assert _staff_events("staff.invitation_resent")


def test_clearing_the_backoff_lets_them_try_now(desk, person):
    for _ in range(8):
        audit.record("sign_in.failed", actor=person, target_type="user", target_id=person.sub)
    db.session.commit()
    assert throttling.wait_remaining(person, throttling.Backoff()) > 0
    assert location(_confirm(desk, person.sub, "clear-backoff", reason="Locked out"))
    assert throttling.wait_remaining(person, throttling.Backoff()) == 0


def test_a_factor_is_removed_after_the_identity_check_and_the_person_told(desk, person, mailbox):
    secret = totp.new_secret()
    totp.enable(person, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    key_id = _add_passkey(person).id
    db.session.commit()
    unchecked = _confirm(desk, person.sub, "remove-factor", factor="totp", reason="Lost phone")
    assert unchecked.status_code == 400
    db.session.expire_all()
    assert person.has_totp
    done = _confirm(
        desk,
        person.sub,
        "remove-factor",
        factor="totp",
        reason="Lost phone",
        identity_check="called_back",
    )
    assert location(done) == f"/console/people/{person.sub}"
    db.session.expire_all()
    assert not person.has_totp and totp.remaining_recovery_codes(person) == 0
    mailbox.wait_for("tom@example.org", "authenticator app was removed")
    _confirm(
        desk,
        person.sub,
        "remove-factor",
        factor="passkey",
        passkey=str(key_id),
        reason="Lost laptop",
        identity_check="officer_confirmed",
    )
    db.session.expire_all()
    assert db.session.scalar(select(Passkey).where(Passkey.id == key_id)) is None
    mailbox.wait_for("tom@example.org", "passkey was removed")
    checks = [e.details["identity_check"] for e in _staff_events("staff.factor_removed")]
    assert sorted(checks) == ["called_back", "officer_confirmed"]


def test_the_events_page_goes_back_by_position(desk, person):
    for _ in range(25):
        audit.record("sign_in.failed", actor=person, target_type="user", target_id=person.sub)
        clock.advance(1)
    db.session.commit()
    first = page_text(desk.get(f"/console/people/{person.sub}"))
    assert "Older events" in first
