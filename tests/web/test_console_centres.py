"""The console's Centres pages: find a centre, see it, and change it only after a confirmation
page and with a reason; each rule tried as the attacker (a forged form, a non-staff user)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from idp.domain import organisations
from idp.extensions import db
from idp.models import AuditEvent, Organisation, StaffRole, UserStatus
from tests.journeys import csrf_token, location, page_text, sign_in, submit


@pytest.fixture
def desk(client, sign_in_staff):
    """A browser signed in as a support agent, ready for the console."""
    sign_in_staff("desk@example.org", role=StaffRole.SUPPORT)
    return client


@pytest.fixture
def left(make, centre):
    """AA101, whose exams officer (Olga Officer) has left: her account is suspended."""
    officer = centre.exams_officer
    officer.status = UserStatus.SUSPENDED
    db.session.commit()
    return centre


def _staff_events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == f"staff.{action}"))
    )


def _token(client, url: str) -> str:
    return csrf_token(client.get(url))


def test_the_search_finds_centres_by_number_and_by_name_with_a_typo(desk, make, centre):
    make.org("CA200", name="Associate Trust", brand="cambridge-international")
    found = page_text(desk.get("/console/centres?q=aa1"))
    assert "AA Dummy Centre A (CIC)" in found and "Olga Officer" in found
    assert "Cambridge International Education" in found  # the brand by its name
    assert "AA Dummy Centre A (CIC)" in page_text(desk.get("/console/centres?q=Dumy+Centre"))
    assert "1 centre found" in page_text(desk.get("/console/centres?q=trust"))
    assert "No centre matches" in page_text(desk.get("/console/centres?q=zebra"))
    assert desk.get("/console/centres?q=x&associates_of=NOPE1").status_code == 400
    front = page_text(desk.get("/console/"))
    assert 'href="/console/centres">Centres</a>' in front


def test_the_centre_page_sums_the_centre_up(desk, centre, make):
    make.org("CA200", name="Associate Trust")
    organisations.set_parent(centre, organisations.get_by_code("CA200"))
    db.session.commit()
    page = page_text(desk.get("/console/centres/aa101"))
    officer = centre.exams_officer
    assert f'href="/console/people/{officer.sub}">Olga Officer</a>' in page
    assert "User Management" in page and "CA200" in page
    assert re.search(r"<dt>Active</dt><dd>2</dd>", page), page
    assert desk.get("/console/centres/NOPE1").status_code == 404


def test_naming_an_officer_asks_first_then_invites_the_new_address(desk, left, mailbox):
    url = "/console/centres/AA101/officer"
    form = {
        "email": "nina@example.org",
        "given_name": "Nina",
        "family_name": "New",
        "reason": "The head teacher emailed: Olga left in June",
    }
    asked = submit(desk, url, form)
    assert asked.status_code == 200
    question = page_text(asked)
    assert "Olga Officer will lose User Management." in question
    assert "Olga Officer will lose Global Listening." in question
    assert "invitation email with a temporary password" in question
    assert left.exams_officer.email == "officer@example.org"  # nothing changed yet
    assert not _staff_events("exams_officer_named")
    done = desk.post(url, data={**form, "confirm": "yes", "csrf_token": _token(desk, url)})
    assert location(done) == "/console/centres/AA101"
    db.session.expire_all()
    assert left.exams_officer.email == "nina@example.org"
    mailbox.wait_for("nina@example.org", "Your My Cambridge account")
    (event,) = _staff_events("exams_officer_named")
    assert event.details["reason"] == form["reason"] and event.organisation_id == left.id


def test_the_old_officer_may_keep_user_management(desk, centre, make):
    make.user("max@example.org", org=centre, roles=("sfa.teacher",), given_name="Max")
    url = "/console/centres/AA101/officer"
    form = {"email": "max@example.org", "keep": "yes", "reason": "Olga moved to teaching"}
    assert "Olga Officer will keep User Management." in page_text(submit(desk, url, form))
    desk.post(url, data={**form, "confirm": "yes", "csrf_token": _token(desk, url)})
    db.session.expire_all()
    assert centre.exams_officer.email == "max@example.org"
    olga = next(m for m in centre.memberships if m.user.email == "officer@example.org")
    assert "user_management" in olga.role_keys and "gl.exams_officer" not in olga.role_keys


def test_create_rename_and_associates(desk, centre):
    new = {"code": "ca200", "name": "Associate Trust", "brand": "cambridge-international"}
    new["reason"] = "Trust signed up"
    assert "Create centre CA200?" in page_text(submit(desk, "/console/centres/new", new))
    token = _token(desk, "/console/centres/new")
    created = desk.post("/console/centres/new", data={**new, "confirm": "yes", "csrf_token": token})
    assert location(created) == "/console/centres/CA200"
    rename = {"name": "The Associate Trust", "reason": "New name"}
    url = "/console/centres/CA200/rename"
    assert "will be called The Associate Trust" in page_text(submit(desk, url, rename))
    desk.post(url, data={**rename, "confirm": "yes", "csrf_token": _token(desk, url)})
    url = "/console/centres/CA200/associates"
    attach = {"associate": "aa101", "reason": "Joined the trust"}
    assert "Make AA101 an associate centre of CA200?" in page_text(submit(desk, url, attach))
    desk.post(url, data={**attach, "confirm": "yes", "csrf_token": _token(desk, url)})
    db.session.expire_all()
    assert centre.parent.name == "The Associate Trust"
    url = "/console/centres/CA200/associates/AA101/detach"
    detach = {"reason": "Left the trust", "confirm": "yes", "csrf_token": _token(desk, url)}
    assert location(desk.post(url, data=detach)) == "/console/centres/CA200"
    db.session.expire_all()
    assert centre.parent is None
    recorded = {
        e.action
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("staff.%")))
    }
    assert {
        "staff.centre_created",
        "staff.centre_renamed",
        "staff.associate_attached",
        "staff.associate_detached",
    } <= recorded


def test_a_forged_post_for_a_centre_that_does_not_exist_is_404(desk):
    token = _token(desk, "/console/centres")
    for url in (
        "/console/centres/NOPE1/officer",
        "/console/centres/NOPE1/rename",
        "/console/centres/NOPE1/associates",
        "/console/centres/NOPE1/associates/AA101/detach",
    ):
        form = {"email": "x@example.org", "name": "X", "reason": "r", "confirm": "yes"}
        assert desk.post(url, data={**form, "csrf_token": token}).status_code == 404, url
    assert not db.session.scalar(select(func.count()).select_from(Organisation))


def test_an_empty_reason_changes_nothing(desk, left):
    url = "/console/centres/AA101/officer"
    form = {"email": "nina@example.org", "given_name": "N", "family_name": "N", "reason": " "}
    refused = desk.post(url, data={**form, "confirm": "yes", "csrf_token": _token(desk, url)})
    assert refused.status_code == 400 and "Say why" in page_text(refused)
    db.session.expire_all()
    assert left.exams_officer.email == "officer@example.org"
    assert not _staff_events("exams_officer_named")


def test_without_the_confirmation_nothing_changes(desk, left):
    url = "/console/centres/AA101/officer"
    form = {"email": "nina@example.org", "given_name": "N", "family_name": "N", "reason": "r"}
    for confirm in ("", "no", "YES"):
        answer = desk.post(url, data={**form, "confirm": confirm, "csrf_token": _token(desk, url)})
        assert answer.status_code == 200
    db.session.expire_all()
    assert left.exams_officer.email == "officer@example.org"
    assert not _staff_events("exams_officer_named")


def test_the_pages_do_not_exist_for_anyone_but_staff(client, app, centre):
    """The centre's own officer and a teacher find nothing, even posting forged forms."""
    for address in ("officer@example.org", "donald@example.org"):
        browser = app.test_client()
        assert location(sign_in(browser, address)) == "/"
        token = csrf_token(browser.get("/account/personal"))
        for url in ("/console/centres", "/console/centres/AA101", "/console/centres/new"):
            assert browser.get(url).status_code == 404, url
        form = {"email": "mallory@example.org", "given_name": "M", "family_name": "M"}
        forged = {**form, "reason": "r", "confirm": "yes", "csrf_token": token}
        assert browser.post("/console/centres/AA101/officer", data=forged).status_code == 404
    db.session.expire_all()
    assert centre.exams_officer.email == "officer@example.org"
