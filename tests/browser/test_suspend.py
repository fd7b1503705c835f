"""Suspending with a question first: the exams officer is told what a suspension does, is asked,
cancels, suspends and restores a teacher; a deputy finds the named exams officer protected, in
words, with no Suspend button, and the address typed by hand refused. (Suspension at one of
several centres is walked in tests/web/test_organisation_officer.py.)"""

from __future__ import annotations

from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check

PASSWORD = "copper heron meadow 2026"
OFFICER = "suspend.officer@example.org"
DEPUTY = "suspend.deputy@example.org"
TEACHER = "suspend.teacher@example.org"


def _person(site, email: str, first: str, last: str, *roles: str) -> None:
    args = ["users", "create", "--email", email, "--first-name", first, "--last-name", last,
            "--password", PASSWORD, "--org", "SU401"]  # fmt: skip
    for role in roles:
        args += ["--role", role]
    site.idp(*args)


def test_suspend_with_a_question_and_the_deputys_refusal(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "SU401", "--name", "Suspension Centre A")
    _person(site, OFFICER, "Olive", "Officer", "sfa.exams_officer")
    site.idp("orgs", "set-exams-officer", "SU401", OFFICER)
    _person(site, DEPUTY, "Dan", "Deputy", "user_management")
    _person(site, TEACHER, "Tom", "Teacher", "sfa.teacher")

    officer = new_page()
    officer.goto(site.base + "/login")
    sign_in(officer, site.mailbox, OFFICER, PASSWORD, axe_js)
    officer.get_by_role("link", name="My Organisation").click()
    officer.get_by_role("row", name="Tom Teacher").get_by_role("link").click()
    officer.get_by_role("heading", name="Tom Teacher").wait_for()
    assert "If suspended: Tom Teacher will be signed out everywhere" in officer.inner_text("main")
    check(officer, axe_js)
    officer.get_by_role("link", name="Suspend").click()
    officer.get_by_role("heading", name="Suspend Tom Teacher?").wait_for()
    assert "Every service they have signed in to is told to sign them out." in (
        officer.inner_text("main")
    )
    check(officer, axe_js, "organisation-confirm-suspend")
    # Cancel changes nothing.
    with officer.expect_navigation():
        officer.locator("main").get_by_role("link", name="Cancel").click()
    officer.get_by_role("heading", name="Tom Teacher").wait_for()
    officer.get_by_role("link", name="Suspend").click()
    submit(officer, "Yes, suspend Tom Teacher")
    notice = officer.locator(".notice").first.inner_text()
    assert "Tom Teacher has been suspended: they are signed out everywhere" in notice
    assert "Suspended" in officer.inner_text("main")
    check(officer, axe_js)
    officer.get_by_role("link", name="Restore").click()
    officer.get_by_role("heading", name="Restore Tom Teacher?").wait_for()
    check(officer, axe_js)
    submit(officer, "Yes, restore Tom Teacher")
    assert "has been restored" in officer.locator(".notice").first.inner_text()

    # The deputy opens the named exams officer: told why, offered no Suspend or Delete.
    deputy = new_page()
    deputy.goto(site.base + "/login")
    sign_in(deputy, site.mailbox, DEPUTY, PASSWORD, axe_js)
    deputy.get_by_role("link", name="My Organisation").click()
    deputy.get_by_role("row", name="Olive Officer").get_by_role("link").click()
    deputy.get_by_role("heading", name="Olive Officer").wait_for()
    main = deputy.inner_text("main")
    assert "Olive Officer is the exams officer named for SU401. Only Cambridge can" in main
    assert deputy.locator("main").get_by_role("link", name="Suspend").count() == 0
    assert deputy.get_by_label("User Management").is_disabled()
    check(deputy, axe_js, "organisation-protected-officer")
    # The address typed by hand is refused in words.
    deputy.goto(deputy.url + "/suspend")
    deputy.get_by_role("heading", name="Olive Officer").wait_for()
    assert "so they cannot be suspended here" in deputy.locator(".notice").first.inner_text()
    check(deputy, axe_js)
