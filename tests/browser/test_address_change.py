"""An exams officer corrects a teacher's email address: the change waits, shown on the
officer's page, until the teacher opens the link sent to the new address and confirms it."""

from __future__ import annotations

from tests.browser.journeys import sign_in, sign_out, submit
from tests.browser.pages import check, emailed_link

OFFICER = "address.officer@example.org"
TEACHER, NEW = "tess.teacher@example.org", "tess.t@school.example.org"
PASSWORD = "harbour copper lantern 2026"


def test_officer_changes_an_address_and_the_new_address_confirms_it(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "AC101", "--name", "Address Centre")
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Otto", "--last-name", "Officer",
        "--password", PASSWORD,
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "AC101", OFFICER)
    site.idp(
        "users", "create", "--email", TEACHER, "--first-name", "Tess", "--last-name", "Teacher",
        "--password", PASSWORD, "--org", "AC101", "--role", "sfa.teacher",
    )  # fmt: skip

    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, OFFICER, PASSWORD, axe_js)
    page.goto(site.base + "/organisation/AC101/users")
    with page.expect_navigation():
        page.get_by_role("link", name="View Tess Teacher").click()
    page.locator("summary", has_text="Change email address").click()
    check(page, axe_js, "organisation-change-email")
    page.get_by_label("New email address").fill(NEW)
    submit(page, "Change email address")
    assert f"We have sent a link to {NEW} to confirm the change." in page.inner_text("main")
    assert f"Change to {NEW} waiting for confirmation" in page.inner_text("main")
    check(page, axe_js, "organisation-email-change-waiting")
    site.mailbox.wait_for(TEACHER, "A change of your My Cambridge email address", timeout=10)
    sign_out(page)

    # The teacher still signs in with the old address, and sees what waits.
    reader = new_page()
    reader.goto(site.base + "/login")
    sign_in(reader, site.mailbox, TEACHER, PASSWORD, axe_js)
    reader.goto(site.base + "/account/personal")
    assert f"change your main email address to {NEW}" in reader.inner_text("main")
    check(reader, axe_js, "account-email-change-waiting")
    sign_out(reader)

    # Then opens the link sent to the new address, and confirms.
    reader.goto(emailed_link(site.mailbox, NEW, "Confirm your new My Cambridge", "/email-change/"))
    assert reader.url == site.base + "/email-change/confirm"
    reader.get_by_role("heading", name="Confirm your new email address").wait_for()
    check(reader, axe_js, "email-change-confirm")
    submit(reader, "Confirm the change")
    reader.get_by_role("heading", name="Email address changed").wait_for()
    check(reader, axe_js, "email-change-done")
    with reader.expect_navigation():
        reader.get_by_role("link", name="Sign in").click()
    sign_in(reader, site.mailbox, NEW, PASSWORD, axe_js)
    assert reader.url == site.base + "/"

    # The same link, used again, says so plainly.
    again = new_page()
    again.goto(emailed_link(site.mailbox, NEW, "Confirm your new My Cambridge", "/email-change/"))
    again.get_by_role("heading", name="This link cannot be used").wait_for()
    check(again, axe_js, "email-change-link-used")
