"""The support desk's journey the guides end with ("if you are the exams officer and cannot see
My Organisation, contact us"): a support agent signs in, adds the passkey the console needs,
finds a centre whose exams officer has left, names a new one with a reason, and the new
officer activates their account and sees My Organisation for that centre."""

from __future__ import annotations

from idp.domain import users
from idp.extensions import db
from idp.models import UserStatus
from tests.browser.journeys import (
    activate,
    sign_in,
    submit,
    virtual_authenticator,
    without_autofill,
)
from tests.browser.pages import check

PASSWORD = "granite orchid compass 2026"
AGENT = "dana.desk@example.org"
LEFT = "olga.left@example.org"
NEW = "nina.new@example.org"


def _the_officer_left(site) -> None:
    """LF101's exams officer left the centre: her account is suspended."""
    site.idp("orgs", "create", "--code", "LF101", "--name", "Leftover Academy")
    site.idp(
        "users", "create", "--email", LEFT, "--first-name", "Olga", "--last-name", "Left",
        "--password", PASSWORD, "--org", "LF101", "--role", "sfa.teacher",
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "LF101", LEFT)
    with site.cli.app.app_context():
        users.find_by_email(LEFT).status = UserStatus.SUSPENDED
        db.session.commit()
        db.session.remove()


def test_a_support_agent_names_a_new_officer_who_activates(site, new_page, axe_js):
    _the_officer_left(site)
    site.idp(
        "users", "create", "--email", AGENT, "--first-name", "Dana", "--last-name", "Desk",
        "--password", PASSWORD,
    )  # fmt: skip
    site.idp("staff", "grant", AGENT, "--role", "support")

    # The agent signs in and adds the passkey she is asked for.
    desk = new_page()
    without_autofill(desk)
    virtual_authenticator(desk)
    desk.goto(site.base + "/login")
    sign_in(desk, site.mailbox, AGENT, PASSWORD)
    assert desk.url.startswith(site.base + "/account/passkey-required")
    desk.get_by_label("Name of the new passkey").fill("Desk PC")
    submit(desk, "Add a passkey")
    with desk.expect_navigation():
        desk.get_by_role("link", name="I have saved my codes").click()

    # Signed in with her password: the console asks for the passkey itself.
    desk.goto(site.base + "/console/")
    assert "/console/confirm" in desk.url
    submit(desk, "Use my passkey")
    assert desk.url == site.base + "/console/"
    check(desk, axe_js)

    # She finds the centre, typo and all.
    with desk.expect_navigation():
        desk.locator("main").get_by_role("link", name="Centres").first.click()
    desk.get_by_label("Centre number or name").fill("Leftover Acadmey")
    submit(desk, "Search")
    check(desk, axe_js)
    with desk.expect_navigation():
        desk.get_by_role("link", name="LF101").click()
    assert desk.url == site.base + "/console/centres/LF101"
    desk.get_by_text("Olga Left").first.wait_for()
    assert "suspended" in desk.locator("main").inner_text()
    check(desk, axe_js, "console-centre")

    # She names the new officer, gives the reason, and confirms what will happen.
    with desk.expect_navigation():
        desk.get_by_role("link", name="Replace the exams officer").click()
    check(desk, axe_js)
    desk.get_by_label("Email address").fill(NEW)
    desk.get_by_label("First or given name").fill("Nina")
    desk.get_by_label("Last name or surname").fill("New")
    desk.get_by_label("Reason").fill("The head teacher phoned: Olga left in June")
    submit(desk, "Continue")
    question = desk.locator("#consequences").inner_text()
    assert "Olga Left will lose User Management." in question
    assert "invitation email with a temporary password" in question
    check(desk, axe_js, "console-officer-confirm")
    submit(desk, "Yes, name the exams officer")
    assert desk.url == site.base + "/console/centres/LF101"
    desk.get_by_text("Nina New").first.wait_for()

    # She looks the new officer up by address: invited, at LF101 with the officer's roles.
    with desk.expect_navigation():
        desk.locator("main").get_by_role("link", name="People").first.click()
    check(desk, axe_js, "console-people")
    desk.get_by_label("Email address").fill(NEW)
    submit(desk, "Find")
    desk.get_by_role("heading", name="Nina New").wait_for()
    person = desk.locator("main").inner_text()
    assert "LF101" in person and "User Management" in person
    check(desk, axe_js, "console-person")

    # The audit log tells what she did, with her reason; so does it in Spanish.
    desk.goto(site.base + "/console/audit?centre=LF101")
    log = desk.locator("main").inner_text()
    assert "The head teacher phoned: Olga left in June" in log
    check(desk, axe_js, "console-audit")
    desk.goto(site.base + "/console/audit?centre=LF101&lang=es")
    desk.get_by_role("heading", name="Registro de auditoría").wait_for()
    check(desk, axe_js)
    desk.goto(site.base + "/console/audit?lang=en")

    # The new officer activates from the invitation email and sees My Organisation.
    officer = new_page()
    activate(officer, site.base, site.mailbox, axe_js, NEW, "quartz meadow lantern 2027")
    with officer.expect_navigation():
        officer.get_by_role("link", name="My Organisation").click()
    assert "/organisation/LF101" in officer.url
    officer.get_by_role("heading", name="LF101 – Leftover Academy").wait_for()
    check(officer, axe_js)
