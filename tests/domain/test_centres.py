"""The console's centres: found by number or name (typos and all) through indexes only, summed
up, and changed by audited actions with a reason, each rule tried as an attack."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from idp.domain import centre_search, centres, joining, organisations, staff
from idp.errors import Conflict, InvalidInput, NotFound
from idp.extensions import db
from idp.models import AuditEvent, StaffRole, User, UserStatus


@pytest.fixture
def desk(make):
    agent = make.user("desk@example.org", given_name="Dana", family_name="Desk")
    agent.staff_role = StaffRole.SUPPORT
    db.session.commit()
    return agent


@pytest.fixture
def ttl(app):
    return app.extensions["idp.settings"].auth.temporary_password_ttl


def codes(found):
    return [o.code for o in found]


def test_a_centre_number_is_found_by_its_start_and_the_exact_one_comes_first(make):
    for code in ("AA1", "AA101", "AA150", "AA199", "AA200", "BA100"):
        make.org(code, name="Riverside Academy")
    assert codes(centre_search.search("aa1")) == ["AA1", "AA101", "AA150", "AA199"]
    assert codes(centre_search.search("AA150")) == ["AA150"]
    assert codes(centre_search.search("aa1", limit=2)) == ["AA1", "AA101"]
    assert centre_search.search("zz") == []


def test_a_name_is_found_by_any_words_start_and_despite_a_typo(make):
    make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.org("BB202", name="Riverside Academy")
    make.org("CC303", name="Dumfries High School")
    assert codes(centre_search.search("Dumy Centre")) == ["AA101"]
    assert codes(centre_search.search("river")) == ["BB202"]
    assert codes(centre_search.search("acad")) == ["BB202"]
    assert codes(centre_search.search("dum"))[:2] in (["AA101", "CC303"], ["CC303", "AA101"])
    assert codes(centre_search.search("Dumfries Hihg")) == ["CC303"]
    assert centre_search.search("Zebra") == []


def test_a_renamed_centre_is_found_by_its_new_name_only(make, desk):
    centre = make.org("AA101", name="Old Name School")
    centres.rename(desk, centre, "Brand New College", "The centre wrote to us")
    db.session.commit()
    assert codes(centre_search.search("brand new")) == ["AA101"]
    assert centre_search.search("old name") == []


def test_the_filters_narrow_the_search(make):
    make.org("CA200", name="Associate Trust")
    make.org("CA201", name="Trust School One", associate_of="CA200")
    make.org("CA202", name="Trust School Two", associate_of="CA200")
    make.org("CA203", name="Trust School Three")
    make.org("OC100", name="Trust School Four", brand="ocr")
    assert codes(centre_search.search("trust school", associates_of="ca200")) == [
        "CA201",
        "CA202",
    ]
    assert codes(centre_search.search("ca2", associates_of="CA200")) == ["CA201", "CA202"]
    assert codes(centre_search.search("trust", brand="ocr")) == ["OC100"]
    assert codes(centre_search.search("", brand="ocr")) == ["OC100"]
    assert codes(centre_search.search("", associates_of="CA200")) == ["CA201", "CA202"]
    with pytest.raises(NotFound):
        centre_search.search("trust", associates_of="NOPE1")


def _plan(statement) -> str:
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return " ".join(str(row[3]) for row in rows)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    return " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))


def test_every_search_is_an_index_range(make):
    """No search walks a table: each reads a range of an index (on PostgreSQL with sequential
    scans made dear, which a table of 10,000 centres makes them anyway)."""
    make.org("CA200", name="Associate Trust")
    parent = organisations.get_by_code("CA200")
    none = centre_search.Filters()
    plans = {
        "code": _plan(centre_search.code_range("aa1", none, 20)),
        "name": _plan(centre_search.name_matches("dumy centre", none, 20)),
        "brand": _plan(centre_search.code_range("aa1", centre_search.Filters(brand="ocr"), 20)),
        "associates": _plan(
            centre_search.name_matches("trust", centre_search.Filters(associates_of=parent), 20)
        ),
    }
    for path, plan in plans.items():
        if db.engine.dialect.name == "sqlite":
            assert "SCAN organisations" not in plan and "SCAN centre_name" not in plan, (path, plan)
        else:
            assert "Seq Scan" not in plan, (path, plan)
    assert (
        "organisations_code" in plans["code"] or "sqlite_autoindex_organisations" in plans["code"]
    ), plans["code"]
    assert "ix_organisations_brand_code" in plans["brand"], plans["brand"]
    assert "ix_organisations_parent_id" in plans["associates"], plans["associates"]
    assert "centre_name_trigrams" in plans["name"], plans["name"]
    assert "trigram" in plans["name"] or "pkey" in plans["name"], plans["name"]


def test_the_summary(make, desk):
    catalogue_roles = ("sfa.teacher",)
    ca200 = make.org("CA200", name="Associate Trust")
    centre = make.org("CA201", name="Trust School", associate_of="CA200")
    officer = make.exams_officer(centre)
    make.user("manager@example.org", org=centre, roles=("user_management",), given_name="Max")
    make.user("t1@example.org", org=centre, roles=catalogue_roles)
    make.invited("new@example.org", org=centre, roles=catalogue_roles)
    gone = make.user("gone@example.org", org=centre, roles=catalogue_roles)
    gone.status = UserStatus.SUSPENDED
    db.session.commit()
    seen = centres.summary(centre, make.catalogue)
    assert seen.officer is not None and seen.officer.sub == officer.sub
    assert sorted(p.email for p in seen.user_managers) == [
        "manager@example.org",
        "officer@example.org",
    ]
    assert seen.counts == {"active": 3, "invited": 1, "suspended": 1}
    assert seen.parent is ca200
    assert codes(centres.summary(ca200, make.catalogue).associates) == ["CA201"]
    assert any(e.action == "organisation.exams_officer_set" for e in seen.events)


def test_create_and_rename_are_recorded_with_the_reason(make, desk):
    make.org("CA200", name="Associate Trust")
    centre = centres.create(
        desk,
        "ca210",
        "  New   School ",
        "cambridge-international",
        "CA200",
        "New centre form",
        make.catalogue,
    )
    db.session.commit()
    assert (centre.code, centre.name, centre.parent.code) == ("CA210", "New School", "CA200")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.centre_created"))
    assert event.organisation_id == centre.id and event.details["reason"] == "New centre form"
    assert event.actor_user_id == desk.id
    with pytest.raises(staff.ReasonRequired):
        centres.rename(desk, centre, "Other", "  ")
    with pytest.raises(staff.ReasonRequired):
        centres.create(desk, "CA211", "X", "cambridge-international", "", "", make.catalogue)
    with pytest.raises(Conflict):
        centres.create(desk, "CA210", "X", "cambridge-international", "", "r", make.catalogue)


def test_a_new_address_is_invited_and_is_the_officer_at_once(make, desk, ttl, mailbox):
    centre = make.org("AA101", name="AA Dummy Centre A")
    old = make.exams_officer(centre)
    old.status = UserStatus.SUSPENDED  # the officer left
    db.session.commit()
    plan = centres.name_exams_officer(
        desk,
        centre,
        "New.Officer@Example.org",
        "Nina",
        "New",
        keep_old_user_management=False,
        reason="The head asked",
        catalogue=make.catalogue,
        ttl=ttl,
    )
    db.session.commit()
    assert plan.way == "new" and plan.previous is old
    new = centre.exams_officer
    assert new.email == "new.officer@example.org" and new.status == UserStatus.INVITED
    held = organisations.membership(new, centre).role_keys
    assert {"user_management"} | make.catalogue.officer_only_roles(centre.brand) <= held
    assert organisations.membership(old, centre).role_keys.isdisjoint(
        {"user_management"} | make.catalogue.officer_only_roles(centre.brand)
    )
    body = mailbox.wait_for(new.email).get_body().get_content()
    assert "temporary password" in body.lower()
    # It says why, and whom to ask when the password expires: there is no other officer.
    assert "named you the exams officer of AA Dummy Centre A" in body
    assert "support desk" in body and "ask your exams officer" not in body
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "staff.exams_officer_named")
    )
    assert event.details["reason"] == "The head asked" and event.organisation_id == centre.id


def test_the_old_officer_keeps_user_management_when_so_chosen(make, desk, ttl):
    centre = make.org("AA101")
    old = make.exams_officer(centre)
    teacher = make.user("t@example.org", org=centre, roles=("sfa.teacher",))
    centres.name_exams_officer(
        desk,
        centre,
        teacher.email,
        "x",
        "y",
        keep_old_user_management=True,
        reason="r",
        catalogue=make.catalogue,
        ttl=ttl,
    )
    db.session.commit()
    assert centre.exams_officer is teacher
    kept = organisations.membership(old, centre).role_keys
    assert "user_management" in kept
    assert kept.isdisjoint(make.catalogue.officer_only_roles(centre.brand))


def test_the_new_officer_takes_over_the_roles_the_old_one_held(make, desk, ttl):
    """Submit for Assessment's exams officer role is given by a User Management holder, and
    nobody gives themselves roles: a new officer who did not take it over from the one who left
    could not get it at a centre with no one else to ask."""
    centre = make.org("AA101")
    old = make.exams_officer(centre, roles=("user_management", "sfa.exams_officer"))
    old.status = UserStatus.SUSPENDED
    db.session.commit()
    centres.name_exams_officer(
        desk,
        centre,
        "nina@example.org",
        "Nina",
        "New",
        keep_old_user_management=False,
        reason="r",
        catalogue=make.catalogue,
        ttl=ttl,
    )
    db.session.commit()
    held = organisations.membership(centre.exams_officer, centre).role_keys
    assert {"sfa.exams_officer", "user_management"} <= held


def test_an_account_from_elsewhere_becomes_officer_only_by_accepting(make, desk, ttl):
    centre = make.org("AA101")
    old = make.exams_officer(centre)
    other = make.org("BB202")
    elsewhere = make.user("far@example.org", org=other, roles=("sfa.teacher",))
    plan = centres.name_exams_officer(
        desk,
        centre,
        "far@example.org",
        "Far",
        "Away",
        keep_old_user_management=False,
        reason="r",
        catalogue=make.catalogue,
        ttl=ttl,
    )
    db.session.commit()
    assert plan.way == "join"
    assert centre.exams_officer is old  # nothing changes until the person agrees
    assert organisations.membership(elsewhere, centre) is None
    invitation = centres.nominee(centre)
    assert invitation is not None and invitation.user is elsewhere
    joining.accept(elsewhere, invitation.public_id, make.catalogue)
    db.session.commit()
    assert centre.exams_officer is elsewhere
    assert "user_management" not in organisations.membership(old, centre).role_keys


def test_refusals(make, desk, ttl):
    centre = make.org("AA101")
    officer = make.exams_officer(centre)
    banned = make.user("banned@example.org", org=centre, roles=("sfa.teacher",))
    banned.status = UserStatus.SUSPENDED
    db.session.commit()
    name = dict(keep_old_user_management=False, catalogue=make.catalogue, ttl=ttl)
    with pytest.raises(staff.ReasonRequired):
        centres.name_exams_officer(desk, centre, "x@example.org", "X", "Y", reason="", **name)
    with pytest.raises(Conflict):
        centres.name_exams_officer(desk, centre, officer.email, "X", "Y", reason="r", **name)
    with pytest.raises(InvalidInput):
        centres.name_exams_officer(desk, centre, banned.email, "X", "Y", reason="r", **name)
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.given_name == "X")) is None
    assert centre.exams_officer_id == officer.id


def test_associates_attach_and_detach_without_cycles(make, desk):
    ca200 = make.org("CA200")
    ca201 = make.org("CA201")
    ca300 = make.org("CA300", associate_of="CA200")
    with pytest.raises(InvalidInput):
        centres.attach_associate(desk, ca200, ca200, "r")
    with pytest.raises(Conflict):
        centres.attach_associate(desk, ca201, ca300, "r")  # already CA200's
    with pytest.raises(InvalidInput):
        centres.attach_associate(desk, ca300, ca201, "r")  # CA300 is itself an associate
    with pytest.raises(InvalidInput):
        centres.attach_associate(desk, ca201, ca200, "r")  # CA200 has associates: no cycles
    with pytest.raises(staff.ReasonRequired):
        centres.attach_associate(desk, ca200, ca201, "")
    centres.attach_associate(desk, ca200, ca201, "Joined the trust")
    db.session.commit()
    assert ca201.parent is ca200
    with pytest.raises(NotFound):
        centres.detach_associate(desk, ca300, ca201, "r")
    centres.detach_associate(desk, ca200, ca201, "Left the trust")
    db.session.commit()
    assert ca201.parent is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("staff.associate_%"))
    ).all()
    assert sorted(actions) == ["staff.associate_attached", "staff.associate_detached"]
