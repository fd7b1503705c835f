"""Account → Security lists the devices signed in: this one marked, each other one named with
when it signed in and was last active, and its sign-out button named after it (axe-core, and
at phone width)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.browser.journeys import sign_in
from tests.browser.pages import check

ADDRESS = "two.browsers@example.org"
PASSWORD = "granite orchid compass 2026"


def test_the_devices_list_tells_devices_apart_and_names_each_sign_out(site, new_page, axe_js):
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Dev", "--last-name", "Ices",
        "--password", PASSWORD,
    )  # fmt: skip
    other = new_page()
    other.goto(site.base + "/login")
    sign_in(other, site.mailbox, ADDRESS, PASSWORD)
    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    page.goto(site.base + "/account/security")
    check(page, axe_js, "account-security-devices")

    devices = page.locator("li.device")
    assert devices.count() == 2
    assert "This device" in devices.first.locator("h3").inner_text()
    # The other device's button, named after it: not this one's, and with no "this device".
    button = page.get_by_role("button", name="Sign out HeadlessChrome on Linux, signed in")
    assert button.count() == 1
    assert re.fullmatch(
        r'- button "Sign out HeadlessChrome on Linux, signed in \d+ \w+ \d{4} \d\d:\d\d UTC"',
        button.aria_snapshot(),
    ), button.aria_snapshot()
    shots = os.environ.get("DEVICE_SHOTS")
    if shots:
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(Path(shots) / f"devices-{width}.png"), full_page=True)

    button.click()
    page.get_by_text("That device has been signed out.").wait_for()
    assert page.locator("li.device").count() == 1
