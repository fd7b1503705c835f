"""Steps several browser journeys share: signing in, activating an invited account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.pages import check, count_of, emailed_code, emailed_link, temporary_password
from tests.mailbox import Mailbox

CODE = "verification code"


def submit(page: Any, name: str | None = None) -> None:
    """Press the page's main button (or the button called ``name`` in <main>) and wait for
    the answer."""
    button = (
        page.locator("main").get_by_role("button", name=name, exact=True)
        if name
        else page.locator("main button.button[type=submit]").first
    )
    with page.expect_navigation():
        button.click()


def sign_in(
    page: Any, mailbox: Mailbox, address: str, password: str, axe_js: Path | None = None
) -> None:
    """Email address and password on the sign-in page that is showing; then, on a browser new
    to the account, the code emailed to it."""
    codes = count_of(mailbox, address, CODE)
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Password", exact=True).fill(password)
    submit(page)
    if "/login/verify" in page.url:
        if axe_js:
            check(page, axe_js)
        page.get_by_label("Verification code").fill(emailed_code(mailbox, address, codes + 1))
        submit(page)


def activate(
    page: Any,
    base: str,
    mailbox: Mailbox,
    axe_js: Path,
    address: str,
    password: str,
    *,
    shots: bool = False,
) -> None:
    """An invited person follows the link in their invitation: temporary password, a password
    of their own, the code emailed to them, and the home page."""
    page.goto(emailed_link(mailbox, address, "Your My Cambridge account", "/login"))
    check(page, axe_js, "sign-in" if shots else None)
    page.get_by_label("Password", exact=True).fill(temporary_password(mailbox, address))
    submit(page)
    assert page.url == base + "/login/set-password"
    if shots:  # the mistakes first: passwords that differ, then a wrong code
        page.get_by_label("New password", exact=True).fill(password)
        page.get_by_label("Confirm new password").fill(password + " typo")
        submit(page)
        check(page, axe_js)
    # Typed key by key, so the strength meter has something to say.
    page.get_by_label("New password", exact=True).fill("")
    page.get_by_label("New password", exact=True).press_sequentially(password, delay=5)
    page.wait_for_selector("#password-meter:not([hidden])")
    page.get_by_label("Confirm new password").fill(password)
    check(page, axe_js, "set-password" if shots else None)
    submit(page)
    assert page.url == base + "/login/verify"
    check(page, axe_js, "verify" if shots else None)
    code = emailed_code(mailbox, address)
    if shots:
        page.get_by_label("Verification code").fill("000000" if code != "000000" else "111111")
        submit(page)
        check(page, axe_js, "verify-error")
    page.get_by_label("Verification code").fill(code)
    submit(page)
    assert page.url == base + "/"
    check(page, axe_js, "home" if shots else None)


def sign_out(page: Any) -> None:
    """The header's Sign out button."""
    with page.expect_navigation():
        page.get_by_role("navigation", name="Account").get_by_role(
            "button", name="Sign out"
        ).click()


def virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator with user verification (a fingerprint that always matches)
    for this page's browser: the DevTools session and the authenticator's id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def without_autofill(page: Any) -> None:
    """This browser offers no passkey autofill (conditional mediation), as some do not: the
    sign-in page's button is the way. (Chromium's virtual authenticator answers an autofill
    request at once, without a click.)"""
    page.context.add_init_script(
        "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"
    )
