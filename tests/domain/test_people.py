"""People in the console's domain: found by any address or by name within one centre; their
profile says what factors exist, never the factors; the desk's actions are audited, need a
reason, and never reach the agent's own account or, for the support desk, a staff account."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from idp import clock
from idp.domain import audit, people, staff, support, throttling, totp
from idp.errors import InvalidInput, PermissionDenied
from idp.extensions import db
from idp.models import AuditEvent, AuthSession, EmailAddress, Passkey, StaffRole, UserStatus

POLICY = throttling.Backoff()


def _staff(make, address="desk@example.org", role=StaffRole.SUPPORT):
    user = make.user(address, given_name="Dana", family_name="Desk")
    user.staff_role = role
    db.session.commit()
    return user


def _passkey(user, name="Phone"):
    key = Passkey(
        user_id=user.id, credential_id=f"cred-{name}", public_key=b"PUBLIC-KEY-BYTES", name=name
    )
    db.session.add(key)
    db.session.commit()
    return key


def _events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_found_by_any_address_verified_or_not_in_any_case(make):
    person = make.user("tom@example.org")
    db.session.add(EmailAddress(user_id=person.id, address="tom.home@example.org"))
    db.session.commit()
    assert people.find_by_address("  TOM@Example.org ") is person
    assert people.find_by_address("tom.home@example.org") is person  # not verified
    assert people.find_by_address("tom@example") is None
    assert people.find_by_address("to") is None


def test_searched_by_name_within_one_centre_only(make):
    here, there = make.org("AA101"), make.org("BB202")
    tom = make.user("tom@example.org", given_name="Tom", org=here, roles=("sfa.teacher",))
    make.user("tom2@example.org", given_name="Tom", org=there, roles=("sfa.teacher",))
    assert [r.sub for r in people.search_in_centre(here, "tom")] == [tom.sub]


def test_the_profile_names_roles_and_factors_but_holds_no_secret(make, app):
    org = make.org("AA101", name="Dummy Centre A")
    person = make.user("tom@example.org", org=org, roles=("sfa.teacher",))
    secret = totp.new_secret()
    codes = totp.enable(person, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    _passkey(person)
    db.session.commit()
    found = people.profile(person, app.extensions["idp.settings"].catalogue)
    assert found.places[0].code == "AA101"
    assert found.places[0].roles == ["Submit for Assessment: Teacher"]
    assert found.authenticator_app and found.recovery_codes_left == len(codes)
    assert [(k.name, k.synced) for k in found.passkeys] == [("Phone", False)]
    flat = repr(found.addresses) + repr(found.places) + repr(found.passkeys)
    for secret_text in (secret, codes[0], "PUBLIC-KEY-BYTES", person.password_hash):
        assert secret_text not in flat


def test_events_by_and_about_the_person_page_by_position(make):
    person = make.user("tom@example.org")
    desk = _staff(make)
    for n in range(5):
        audit.record("sign_in.failed", actor=person, target_type="user", target_id=person.sub)
        staff.record(desk, "looked", target_type="user", target_id=person.sub, n=n)
        clock.advance(1)
    audit.record("sign_in.failed", actor=desk, target_type="user", target_id=desk.sub)
    db.session.commit()
    first = people.events(person, size=6)
    assert len(first.rows) == 6 and first.older is not None
    second = people.events(person, size=6, before=first.older)
    # Ten, and the account's creation: never the desk's own sign-in.
    assert len(second.rows) == 5 and second.older is None
    ids = [r.id for r in first.rows + second.rows]
    assert len(set(ids)) == 11 and ids == sorted(ids, reverse=True)
    assert second.rows[-1].action == "user.created"


def test_clearing_the_backoff_lets_the_next_password_try_at_once(make):
    person = make.user("tom@example.org")
    desk = _staff(make)
    for _ in range(8):
        audit.record("sign_in.failed", actor=person, target_type="user", target_id=person.sub)
    db.session.commit()
    assert throttling.wait_remaining(person, POLICY) > 0
    support.clear_backoff(desk, person, reason="Locked out, called the desk")
    db.session.commit()
    assert throttling.wait_remaining(person, POLICY) == 0
    (event,) = _events("staff.backoff_cleared")
    assert event.details["reason"] == "Locked out, called the desk"
    assert event.details["staff_role"] == "support"
    # Wrong passwords after the clearing count again.
    clock.advance(1)
    for _ in range(8):
        audit.record("sign_in.failed", actor=person, target_type="user", target_id=person.sub)
    db.session.commit()
    assert throttling.wait_remaining(person, POLICY) > 0


@pytest.mark.parametrize("reason", ["", "   "])
def test_no_reason_no_action(make, reason):
    person = make.user("tom@example.org")
    desk = _staff(make)
    with pytest.raises(staff.ReasonRequired):
        support.suspend_account(desk, person, reason=reason)
    db.session.rollback()
    assert person.status == UserStatus.ACTIVE
    assert not _events("staff.account_suspended")


def test_the_support_desk_cannot_act_on_staff_nor_anyone_on_themselves(make):
    desk = _staff(make)
    chief = _staff(make, "chief@example.org", StaffRole.OPERATOR)
    colleague = _staff(make, "colleague@example.org")
    for target in (chief, colleague, desk):
        with pytest.raises(PermissionDenied):
            support.end_sessions(desk, target, reason="testing")
    with pytest.raises(PermissionDenied):
        support.suspend_account(chief, chief, reason="testing")
    # An operator may help a member of the desk.
    support.clear_backoff(chief, desk, reason="Locked out")
    with pytest.raises(PermissionDenied):
        support.clear_backoff(make.user("nobody@example.org"), desk, reason="x")


def test_suspend_ends_sessions_and_restore_returns_to_active(make):
    person = make.user("tom@example.org")
    desk = _staff(make)
    db.session.add(_session(person))
    db.session.commit()
    assert support.suspend_account(desk, person, reason="Reported stolen") == 1
    db.session.commit()
    assert person.status == UserStatus.SUSPENDED
    with pytest.raises(InvalidInput):
        support.suspend_account(desk, person, reason="again")
    support.restore_account(desk, person, reason="Owner confirmed")
    db.session.commit()
    assert person.status == UserStatus.ACTIVE


def _session(person):
    return AuthSession(
        sid="s1",
        user_id=person.id,
        auth_time=clock.now(),
        expires_at=clock.now() + timedelta(hours=1),
    )


def test_a_factor_is_removed_only_with_an_identity_check(make):
    person = make.user("tom@example.org")
    desk = _staff(make)
    key = _passkey(person)
    with pytest.raises(InvalidInput):
        support.remove_factor(desk, person, "passkey", reason="Lost phone", identity_check="")
    db.session.rollback()
    assert db.session.get(Passkey, key.id) is not None
    support.remove_factor(
        desk,
        person,
        "passkey",
        reason="Lost phone",
        identity_check="called_back",
        passkey_id=key.id,
    )
    db.session.commit()
    assert db.session.get(Passkey, key.id) is None
    (event,) = _events("staff.factor_removed")
    assert event.details["identity_check"] == "called_back"
    assert event.target_id == person.sub


def test_a_reset_link_for_a_suspended_account_is_refused(make):
    person = make.user("tom@example.org")
    person.status = UserStatus.SUSPENDED
    desk = _staff(make)
    db.session.commit()
    with pytest.raises(InvalidInput):
        support.send_reset_link(desk, person, reason="Forgot password", minutes=60)


def test_a_page_of_events_reads_two_index_ranges_not_the_log(make):
    person = make.user("tom@example.org")
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses a plan from its statistics; SQLite's is fixed")
    for path in people._event_paths(person):
        statement = path.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(21)
        compiled = statement.compile(db.engine)
        cursor = db.session.connection().connection.dbapi_connection.cursor()
        params = [compiled.params[name] for name in compiled.positiontup]
        cursor.execute("EXPLAIN QUERY PLAN " + str(compiled), params)
        plan = " ".join(row[3] for row in cursor.fetchall())
        assert "SEARCH audit_events USING INDEX ix_audit_events_" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # read in order: no sort of the history
