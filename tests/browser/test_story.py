"""The whole story, in a browser: the operator creates a centre and its exams officer, the
officer activates and adds a teacher, the teacher activates and one click on Submit for
Assessment's tile lands them in it signed in, the officer takes the role away, and the
service refuses the teacher's next sign-in."""

from __future__ import annotations

from tests.browser.journeys import activate, sign_in
from tests.browser.pages import check

OFFICER = "story.officer@example.org"
TEACHER = "story.teacher@example.org"
OFFICER_PASSWORD = "quiet harbour lantern 2026"
TEACHER_PASSWORD = "copper meadow violin 2026"


def test_centre_officer_teacher_service_and_a_role_taken_away(site, new_page, axe_js):
    mailbox = site.mailbox
    site.idp("orgs", "create", "--code", "ST101", "--name", "Story Test Centre")
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Olga", "--last-name", "Officer"
    )
    site.idp("orgs", "set-exams-officer", "ST101", OFFICER)

    # The officer: a wrong password first (the error summary), then the activation.
    officer = new_page()
    officer.goto(site.base + "/login")
    sign_in(officer, mailbox, OFFICER, "not the password at all")
    summary = officer.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    assert summary.locator("a").first.get_attribute("href") == "#email"
    assert officer.locator("#email").get_attribute("aria-invalid") == "true"
    check(officer, axe_js, "sign-in-error")
    activate(officer, site.base, mailbox, axe_js, OFFICER, OFFICER_PASSWORD, shots=True)

    # My Organisation: the users list, then Add user(s) – a mistake first, then the teacher.
    officer.get_by_role("link", name="My Organisation").click()
    officer.wait_for_url("**/organisation/ST101/users")
    check(officer, axe_js, "organisation-users")
    officer.get_by_role("link", name="Add user(s)").click()
    check(officer, axe_js)
    officer.fill("#given_name-0", "Tom")
    officer.fill("#family_name-0", "Teacher")
    officer.fill("#email-0", "not an address")
    officer.check("#roles-0-sfa\\.teacher")
    officer.check("#roles-0-aa\\.nominated_user")
    officer.locator("button[value=save]").click()
    summary = officer.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    target = summary.locator("a").first.get_attribute("href")
    assert officer.locator(target).count() == 1
    check(officer, axe_js, "organisation-add-users")
    officer.fill("#email-0", TEACHER)
    officer.locator("button[value=save]").click()
    officer.get_by_role("heading", name="Invitations sent").wait_for()
    check(officer, axe_js)

    # The teacher activates on their own browser and opens Submit for Assessment's tile.
    teacher = new_page()
    activate(teacher, site.base, mailbox, axe_js, TEACHER, TEACHER_PASSWORD)
    # One click: the tile starts the sign-in at the service (its initiate login URI), which
    # My Cambridge's session answers at once; no "Sign in with My Cambridge" on the way.
    teacher.get_by_role("link", name="Submit for Assessment").click()
    teacher.wait_for_url(site.sfa + "/")
    sign_in_again = teacher.get_by_role("link", name="Sign in with My Cambridge")
    received = teacher.get_by_role("heading", name="What My Cambridge told this service")
    received.or_(sign_in_again).first.wait_for()
    assert sign_in_again.count() == 0, "the tile stopped at the service's sign-in page"
    received = teacher.locator(".received").inner_text()
    assert "Tom Teacher" in received
    assert "ST101 – Story Test Centre" in received
    assert "Teacher: your own submissions" in received
    assert "You cannot use" not in teacher.content()
    check(teacher, axe_js, "service-submit-for-assessment")

    # The officer takes Submit for Assessment: Teacher away.
    officer.get_by_role("link", name="Back to users").click()
    officer.get_by_role("link", name="View Tom Teacher").click()
    check(officer, axe_js, "organisation-view-user")
    officer.get_by_label("Submit for Assessment: Teacher").uncheck()
    officer.get_by_role("button", name="Save changes").click()
    officer.locator(".notice").first.wait_for()
    check(officer, axe_js)
    officer.get_by_role("link", name="Back to users").click()
    officer.get_by_role("link", name="Audit log").click()
    officer.wait_for_url("**/organisation/ST101/audit")
    check(officer, axe_js, "organisation-audit-log")

    # The teacher signs out of the service (and so of My Cambridge) and signs in again: the
    # ID token no longer carries the role, and the service says no.
    teacher.get_by_role("button", name="Sign out").click()
    if "/logout" in teacher.url and teacher.get_by_role("heading", name="Sign out of").count():
        check(teacher, axe_js)
        teacher.get_by_role("button", name="Sign out").click()
    teacher.wait_for_url(site.sfa + "/")
    teacher.get_by_role("link", name="Sign in with My Cambridge").click()
    teacher.get_by_role("heading", name="Sign in").wait_for()
    check(teacher, axe_js)
    sign_in(teacher, mailbox, TEACHER, TEACHER_PASSWORD)
    teacher.wait_for_url(site.sfa + "/")
    teacher.get_by_role("heading", name="You cannot use Submit for Assessment").wait_for()
    assert "needs the role Submit for Assessment" in teacher.content()
    check(teacher, axe_js, "service-submit-for-assessment-refused")

    # The officer suspends Tom, then opens the page that deletes him (and stops there).
    officer.goto(site.base + "/organisation/ST101/users")
    officer.get_by_role("link", name="View Tom Teacher").click()
    officer.get_by_role("link", name="Suspend").click()
    officer.get_by_role("heading", name="Suspend Tom Teacher?").wait_for()
    with officer.expect_navigation():
        officer.get_by_role("button", name="Yes, suspend Tom Teacher").click()
    officer.locator(".notice").first.wait_for()
    check(officer, axe_js)
    officer.get_by_role("link", name="Delete this user").click()
    officer.get_by_role("heading", name="Delete Tom Teacher", exact=True).wait_for()
    check(officer, axe_js, "organisation-delete-user")
