"""Change Organisation, the one control for the organisation a person acts for: the exams
officer of a Cambridge Associate chooses one of its associate centres on the home page and My
Organisation follows; a teacher at two centres meets the organisation chooser when signing in
to Submit for Assessment, and the service shows the centre she chose."""

from __future__ import annotations

from idp.domain import organisations, users
from idp.extensions import db
from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check

OFFICER = "associate.officer@example.org"
TEACHER = "two.centres@example.org"
PASSWORD = "amber kestrel lighthouse 2026"


def test_associate_officer_changes_organisation(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "CA300", "--name", "Browser Associate (CA)")
    site.idp("orgs", "create", "--code", "CA301", "--name", "Associate Centre North")
    site.idp("orgs", "create", "--code", "CA302", "--name", "Associate Centre South")
    for centre in ("CA301", "CA302"):
        site.idp("orgs", "set-associate", centre, "--of", "CA300")
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Cora", "--last-name", "Associate",
        "--password", PASSWORD,
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "CA300", OFFICER)
    site.idp(
        "users", "create", "--email", "north.teacher@example.org", "--first-name", "Nora",
        "--last-name", "North", "--password", PASSWORD, "--org", "CA301", "--role", "sfa.teacher",
    )  # fmt: skip

    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, OFFICER, PASSWORD, axe_js)
    # Three organisations to act for and none chosen: the home page asks first.
    page.get_by_role("heading", name="Choose the organisation you are acting for").wait_for()
    assert page.locator("a.tile__link").count() == 0
    check(page, axe_js, "home-choose-organisation")
    # Continue with nothing chosen: the error is announced and points at the choices.
    submit(page, "Continue")
    assert page.locator(".error-summary").is_visible()
    check(page, axe_js)
    page.get_by_label("CA301 – Associate Centre North").check()
    submit(page, "Continue")
    page.get_by_text("You are now acting for CA301 – Associate Centre North.").wait_for()
    assert "Acting for CA301 – Associate Centre North" in page.locator("header").inner_text()
    check(page, axe_js)
    page.get_by_role("link", name="My Organisation").click()
    page.get_by_role("heading", name="CA301 – Associate Centre North").wait_for()
    row = page.get_by_role("row", name="Nora North")
    assert "Submit for Assessment: Teacher" in row.inner_text()
    check(page, axe_js)
    # Change Organisation from the header of any page: back to the Associate itself.
    page.locator("header").get_by_role("link", name="Change organisation").click()
    page.get_by_role("heading", name="Change organisation").wait_for()
    check(page, axe_js, "organisation-choose")
    page.get_by_label("CA300 – Browser Associate (CA)").check()
    submit(page, "Continue")
    page.get_by_role("link", name="My Organisation").click()
    page.get_by_role("heading", name="CA300 – Browser Associate (CA)").wait_for()


def test_a_teacher_at_two_centres_chooses_when_signing_in_to_a_service(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "TC401", "--name", "Two Centres East")
    site.idp("orgs", "create", "--code", "TC402", "--name", "Two Centres West")
    site.idp(
        "users", "create", "--email", TEACHER, "--first-name", "Tina", "--last-name", "Twice",
        "--password", PASSWORD, "--org", "TC401", "--role", "sfa.teacher",
    )  # fmt: skip
    with site.cli.app.app_context():  # a role at a second centre: no command does that alone
        teacher = users.find_by_email(TEACHER)
        assert teacher is not None
        organisations.set_roles(
            teacher,
            organisations.get_by_code("TC402"),
            ("sfa.teacher",),
            site.cli.settings.catalogue,
        )
        db.session.commit()

    page = new_page()
    page.goto(site.sfa + "/")
    page.get_by_role("link", name="Sign in with My Cambridge").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    sign_in(page, site.mailbox, TEACHER, PASSWORD, axe_js)
    page.get_by_role("heading", name="Which organisation are you acting for?").wait_for()
    check(page, axe_js, "authorize-choose-organisation")
    # Continue with nothing chosen: the error is announced.
    submit(page, "Continue")
    assert page.locator(".error-summary").is_visible()
    check(page, axe_js)
    page.get_by_label("TC402 – Two Centres West").check()
    submit(page, "Continue")
    page.wait_for_url(site.sfa + "/")
    page.get_by_text("TC402").first.wait_for()
    assert "TC401" not in page.content()
