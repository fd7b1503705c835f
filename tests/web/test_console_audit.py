"""The console's audit log: the whole service's events for the exam board's staff, filtered,
told in sentences with the reason staff gave, paged by position, and downloaded as a CSV file
a spreadsheet cannot be tricked into running. Nobody else finds it."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from idp.domain import audit, staff
from idp.extensions import db
from idp.models import AuditEvent, StaffRole, User
from tests.journeys import location, page_text, sign_in

PAGES = ("/console/audit", "/console/audit.csv")


@pytest.fixture
def desk(client, sign_in_staff, make, centre):
    """A support agent at the console, and what they did to Donald at AA101."""
    agent, _ = sign_in_staff(
        "desk@example.org", role=StaffRole.SUPPORT, given_name="Sam", family_name="Support"
    )
    donald = db.session.scalar(select(User).where(User.given_name == "Donald"))
    staff.record(
        agent,
        "sessions_ended",
        reason="Phone stolen, called the desk",
        target_type="user",
        target_id=donald.sub,
        organisation_id=centre.id,
    )
    staff.record(
        agent, "centre_renamed", reason='=HYPERLINK("http://evil")', organisation_id=centre.id
    )
    db.session.commit()
    return client


def test_the_log_is_not_there_for_anyone_but_staff(client, app, centre):
    for page in PAGES:
        assert location(client.get(page)).startswith("/login"), page
    # An exams officer and a teacher, signed in: no such pages.
    for address in ("officer@example.org", "donald@example.org"):
        browser = app.test_client()
        assert location(sign_in(browser, address)) == "/"
        for page in PAGES:
            assert browser.get(page + "?person=donald@example.org").status_code == 404, page


def test_staff_read_what_happened_with_the_reason_given(desk):
    text = page_text(desk.get("/console/audit?centre=aa101"))
    assert "Console: signed out everywhere" in text
    assert "Sam Support signed Donald Duck out everywhere." in text
    assert "Phone stolen, called the desk" in text
    assert '<a href="/console/audit?centre=AA101">AA101</a>' in text
    assert 'aria-current="page">Audit log</a>' in text


def test_each_filter_narrows_the_log(desk):
    def labels(query: str) -> str:
        return page_text(desk.get("/console/audit?" + query))

    by_person = labels("person=donald@example.org")
    assert "Console: signed out everywhere" in by_person
    assert "Console: centre renamed" not in by_person
    by_actor = labels("actor=desk@example.org&action=staff.")
    assert "Console: centre renamed" in by_actor and "Console: signed out everywhere" in by_actor
    assert "Signed in" not in by_actor.split("<tbody>")[1]
    assert "Console: centre renamed" not in labels("action=sign_in.")
    assert "No events." in labels("from=2001-01-01&to=2001-01-31")
    nobody = labels("person=nobody@example.org")
    assert "No account or centre is known as nobody@example.org" in nobody
    assert "No events." in nobody
    assert "No events." in labels("centre=ZZ999")


def test_pages_go_by_position_and_a_hand_edited_one_is_still_a_page(desk, monkeypatch):
    monkeypatch.setattr("idp.web.console.audit.PAGE_SIZE", 1)
    first = page_text(desk.get("/console/audit?action=staff."))
    assert "Console: centre renamed" in first and 'rel="next"' in first
    assert 'rel="prev"' not in first  # the newest page has no newer one
    link = first.split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    second = page_text(desk.get(link))
    assert "Console: signed out everywhere" in second and 'rel="prev"' in second
    for token in ("x", "99999999999999999.1", "1.-1", "1" * 40 + ".1", "0.0", "1.1.1"):
        for side in ("before", "after"):
            assert desk.get(f"/console/audit?{side}={token}").status_code == 200, token
    monkeypatch.setattr(audit, "COUNT_CAP", 1)
    assert "More than 1 events" in page_text(desk.get("/console/audit?action=staff."))


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_csv_is_the_filtered_events_oldest_first_and_never_a_formula(desk):
    rows = _csv(desk.get("/console/audit.csv?action=staff.&centre=AA101"))
    assert rows[0] == ["when_utc", "event", "what_happened", "reason", "centre", "ip_address"]
    assert [r[1] for r in rows[1:]] == ["Console: signed out everywhere", "Console: centre renamed"]
    assert rows[1][3] == "Phone stolen, called the desk" and rows[1][4] == "AA101"
    # A reason (or a name) a spreadsheet would run is written as text.
    assert rows[2][3] == '\'=HYPERLINK("http://evil")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # The download is itself on the record, with what was asked for.
    downloaded = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "staff.audit_downloaded")
    )
    assert downloaded.details["filters"] == {"action": "staff.", "centre": "AA101"}
    assert downloaded.details["staff_role"] == "support"


def test_a_csv_for_nobody_is_only_its_header(desk):
    assert _csv(desk.get("/console/audit.csv?person=nobody@example.org"))[1:] == []
