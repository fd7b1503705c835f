"""Forgotten password: the link from the email, a new password, and a sign-in with it."""

from __future__ import annotations

from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check, emailed_link

ADDRESS = "forgetful@example.org"
OLD, NEW = "original pumpkin harbour 2026", "replacement walnut glacier 2026"


def test_reset_link_new_password_sign_in(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "FP101", "--name", "Forgotten Password Centre")
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Fern", "--last-name", "Gotten",
        "--password", OLD, "--org", "FP101", "--role", "sfa.teacher",
    )  # fmt: skip

    page = new_page()
    page.goto(site.base + "/login")
    page.get_by_role("link", name="Forgotten password?").click()
    page.get_by_role("heading", name="Forgotten password").wait_for()
    check(page, axe_js, "forgotten-password")
    page.get_by_label("Email address").fill("not an address")
    submit(page)
    check(page, axe_js)
    page.get_by_label("Email address").fill(ADDRESS)
    submit(page)
    check(page, axe_js, "forgotten-password-sent")

    page.goto(emailed_link(site.mailbox, ADDRESS, "Reset your My Cambridge password", "/reset"))
    check(page, axe_js, "reset-password")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Confirm new password").fill(OLD)
    submit(page)
    check(page, axe_js)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Confirm new password").fill(NEW)
    submit(page)
    check(page, axe_js)

    if page.get_by_label("Email address").count() == 0:
        page.goto(site.base + "/login")
    sign_in(page, site.mailbox, ADDRESS, OLD)
    assert page.locator(".error-summary").is_visible()
    sign_in(page, site.mailbox, ADDRESS, NEW, axe_js)
    assert page.url == site.base + "/"
    page.get_by_role("heading", name="Welcome, Fern").wait_for()
