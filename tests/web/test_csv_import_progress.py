"""A long CSV import runs after its confirmation is answered: the officer sees its progress
(a bar and a count, a script keeping them current, a link without it), then a summary of who
was added and who could not be, with the reason. Each person is one transaction."""

from __future__ import annotations

import pytest

from idp import clock
from idp.domain import imports, management
from idp.domain.management import NewUser
from idp.extensions import db
from idp.models import AuditEvent, ImportJob
from tests.journeys import location, page_text, sign_in


@pytest.fixture
def centre(make):
    return make.org("AA101", name="AA Dummy Centre A (CIC)")


@pytest.fixture
def officer(make, centre):
    return make.exams_officer(centre, email="lead@example.org")


@pytest.fixture
def officer_browser(client, officer):
    assert location(sign_in(client, "lead@example.org")) == "/"
    return client


def _people(n: int) -> list[NewUser]:
    return [NewUser(f"P{i}", "Person", f"p{i}@example.org", ("sfa.teacher",)) for i in range(n)]


def _settings(app) -> management.ManagementSettings:
    settings = app.extensions["idp.settings"]
    return management.ManagementSettings(
        settings.catalogue, settings.auth.temporary_password_ttl, settings.auth.password_reset_ttl
    )


def test_a_running_import_shows_its_progress(officer_browser, officer, centre, app):
    job = imports.start(officer, centre, _people(3))
    db.session.commit()
    address = f"/organisation/AA101/users/import/{job.id}"

    page = officer_browser.get(address).get_data(as_text=True)
    assert '<progress id="import-progress" class="progress" max="3" value="0"' in page
    assert "Invited 0 of 3." in page
    assert "import-progress.js" in page and "Check progress" in page
    progress = officer_browser.get(f"{address}/progress")
    assert progress.headers["Cache-Control"] == "no-store"
    assert progress.get_json() == {
        "state": "running",
        "total": 3,
        "done": 0,
        "invited": 0,
        "failed": 0,
    }

    imports.run(job.id, _people(3), _settings(app))
    assert officer_browser.get(f"{address}/progress").get_json()["state"] == "finished"
    summary = page_text(officer_browser.get(address))
    assert "3 of 3 people invited." in summary
    assert summary.count("Invitation sent") == 3


def test_someone_who_can_no_longer_be_added_is_reported_and_the_rest_go_on(
    officer, centre, app, make, mailbox
):
    people = _people(3)
    job = imports.start(officer, centre, people)
    db.session.commit()
    # Between the preview and the run, someone else added p1 to the centre.
    make.user("p1@example.org", org=centre, roles=("sfa.teacher",))

    imports.run(job.id, people, _settings(app))
    db.session.expire_all()
    done = db.session.get(ImportJob, job.id)
    assert (done.done, done.invited, done.failed) == (3, 2, 1)
    (problem,) = [r for r in done.results if r["kind"] == "failed"]
    assert problem["email"] == "p1@example.org"
    assert "already a member" in problem["message"]["msgid"]  # translated when shown
    mailbox.wait_for("p0@example.org", "Your My Cambridge account")
    mailbox.wait_for("p2@example.org", "Your My Cambridge account")
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"management.import_started", "user.invited"} <= actions


def test_an_import_that_stopped_says_so(officer_browser, officer, centre):
    job = imports.start(officer, centre, _people(2))
    db.session.commit()
    clock.advance(3 * 60)
    page = page_text(officer_browser.get(f"/organisation/AA101/users/import/{job.id}"))
    assert "The import stopped before it finished" in page
    assert "upload the same file again" in page


def test_another_organisations_import_is_not_found(client, make, officer, centre):
    job = imports.start(officer, centre, _people(1))
    db.session.commit()
    other = make.org("ZZ999")
    make.exams_officer(other, email="zz.officer@example.org")
    assert location(sign_in(client, "zz.officer@example.org")) == "/"
    assert client.get(f"/organisation/AA101/users/import/{job.id}").status_code in (403, 404)
    assert client.get(f"/organisation/ZZ999/users/import/{job.id}").status_code == 404
    assert client.get(f"/organisation/ZZ999/users/import/{job.id}/progress").status_code == 404
