"""An authenticator app: set up from Account → Security with the key shown on the page
(pyotp plays the phone), then asked for at the next sign-in."""

from __future__ import annotations

import time

import pyotp

from tests.browser.journeys import sign_in, sign_out, submit
from tests.browser.pages import check

ADDRESS = "careful@example.org"
PASSWORD = "granite orchid compass 2026"


def test_enrol_an_authenticator_and_sign_in_with_it(site, new_page, axe_js):
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Tara", "--last-name", "Totp",
        "--password", PASSWORD,
    )  # fmt: skip
    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    check(page, axe_js)  # the home page of an account that belongs to no centre yet
    page.get_by_role("link", name="Account").click()
    check(page, axe_js, "account-personal")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Security").click()
    check(page, axe_js, "account-security")
    page.get_by_role("link", name="Set up an authenticator app").click()
    check(page, axe_js, "authenticator-setup")

    app = pyotp.TOTP(page.locator(".secret").inner_text().replace(" ", ""))
    page.get_by_label("Code from the app").fill("123")
    submit(page, "Turn on")
    check(page, axe_js)
    page.get_by_label("Code from the app").fill(app.now())
    page.get_by_label("Your current password").fill(PASSWORD)
    submit(page, "Turn on")
    assert page.locator(".codes li").count() == 10
    check(page, axe_js, "recovery-codes")

    # Sign out, and in again: the password, then the app's code. Each code is taken once, so
    # the next one (accepted one step early) is the one to type.
    sign_out(page)
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    check(page, axe_js, "sign-in-authenticator")
    page.get_by_label("Authenticator code").fill("12345")
    submit(page, "Continue")
    check(page, axe_js)
    page.get_by_label("Authenticator code").fill(app.at(time.time() + app.interval))
    submit(page, "Continue")
    assert page.url == site.base + "/"
    page.get_by_role("heading", name="Welcome, Tara").wait_for()
