"""Joining a second centre by consent, in a browser: an exams officer adds the address of a
teacher who already has an account at another centre; the officer's pages show only what was
typed; the teacher accepts the invitation on her home page and only then joins."""

from __future__ import annotations

from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check

OFFICER = "join.officer@example.org"
TEACHER = "join.teacher@example.org"
PASSWORD = "amber kestrel lighthouse 2026"


def test_a_teacher_joins_a_second_centre_by_accepting(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "JA101", "--name", "Joining Centre A")
    site.idp("orgs", "create", "--code", "JB102", "--name", "Joining Centre B")
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Ola", "--last-name", "Officer",
        "--password", PASSWORD,
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "JA101", OFFICER)
    site.idp(
        "users", "create", "--email", TEACHER, "--first-name", "Tess", "--last-name", "Real",
        "--password", PASSWORD, "--org", "JB102", "--role", "sfa.teacher",
    )  # fmt: skip

    officer = new_page()
    officer.goto(site.base + "/login")
    sign_in(officer, site.mailbox, OFFICER, PASSWORD)
    officer.get_by_role("link", name="My Organisation").click()
    officer.get_by_role("link", name="Add user(s)").click()
    officer.fill("#given_name-0", "Tina")
    officer.fill("#family_name-0", "Typed")
    officer.fill("#email-0", TEACHER)
    officer.check("#roles-0-sfa\\.teacher")
    officer.locator("button[value=save]").click()
    officer.get_by_role("heading", name="Invitations sent").wait_for()
    check(officer, axe_js)
    officer.get_by_role("link", name="Back to users").click()
    row = officer.get_by_role("row", name="Tina Typed")
    assert "Invited" in row.inner_text() and "Tess" not in officer.content()
    officer.get_by_role("link", name="View Tina Typed").click()
    officer.get_by_role("heading", name="Tina Typed").wait_for()
    assert "JB102" not in officer.content()
    check(officer, axe_js, "organisation-invitation")
    officer.get_by_role("link", name="Withdraw invitation").click()
    officer.get_by_role("button", name="Yes, withdraw the invitation to Tina Typed").wait_for()
    check(officer, axe_js, "organisation-invitation-withdraw")
    officer.get_by_role("link", name="Cancel").click()
    officer.get_by_role("heading", name="Tina Typed").wait_for()

    teacher = new_page()
    teacher.goto(site.base + "/login")
    sign_in(teacher, site.mailbox, TEACHER, PASSWORD)
    teacher.get_by_role("heading", name="An invitation to join an organisation").wait_for()
    assert "Ola Officer at JA101 – Joining Centre A invites you to join it" in teacher.content()
    check(teacher, axe_js, "home-invitation")
    submit(teacher, "Accept and join JA101")
    teacher.get_by_text("You have joined JA101 – Joining Centre A.").wait_for()
    check(teacher, axe_js)

    officer.goto(site.base + "/organisation/JA101/users")
    officer.get_by_role("row", name="Tess Real").wait_for()
