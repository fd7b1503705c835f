"""Change Organisation: the exams officer of a Cambridge Associate switches to one of its
associate centres and sees that centre's users."""

from __future__ import annotations

from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check

OFFICER = "associate.officer@example.org"
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
    page.get_by_role("link", name="My Organisation").click()
    page.get_by_role("heading", name="CA300 – Browser Associate (CA)").wait_for()
    check(page, axe_js)
    page.get_by_role("link", name="Change organisation").click()
    page.get_by_role("heading", name="Change organisation").wait_for()
    check(page, axe_js, "organisation-choose")
    # Confirm with nothing chosen: the error is announced and points at the choices.
    page.evaluate(
        "() => document.querySelectorAll('[name=organisation]').forEach(r => r.checked = false)"
    )
    submit(page, "Confirm")
    assert page.locator(".error-summary").is_visible()
    check(page, axe_js)
    page.get_by_label("CA301 – Associate Centre North").check()
    submit(page, "Confirm")
    page.get_by_role("heading", name="CA301 – Associate Centre North").wait_for()
    row = page.get_by_role("row", name="Nora North")
    assert "Submit for Assessment: Teacher" in row.inner_text()
    check(page, axe_js)
