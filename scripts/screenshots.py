"""Take the README's screenshots: a throw-away demo, driven in headless Chromium.

    .venv/bin/pip install playwright   # the Python package only; the browser is Debian's
    .venv/bin/python scripts/screenshots.py [--chromium /usr/bin/chromium]

Starts ``idp demo`` in a temporary directory on a free loopback port, walks the invited demo
user through activation (reading the invitation and the code from the demo's mail outbox),
visits the main pages, and writes PNGs at desktop and phone widths to docs/screenshots/.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
INVITED = "aa101.eve@example.org"
OFFICER = "aa101.anakin@example.org"
DEMO_PASSWORD = "demo-password-2026"
NEW_PASSWORD = "lantern orchard velvet"
WIDTHS = {"desktop": (1280, 900), "phone": (360, 780)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def latest_text(outbox: Path, subject: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if subject in str(message["Subject"]):
                return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        time.sleep(0.1)
    raise SystemExit(f"no message about {subject!r} in {outbox}")


def shoot(page: Page, name: str) -> None:
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(OUT / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update(IDP_OIDC__KEYS_DIR=str(Path(tmp) / "keys"), IDP_ACCESS_LOG="")
        # As a deployment with Google and Facebook configured (never called here).
        env["IDP_UPSTREAM"] = json.dumps(
            [
                {
                    "key": "google",
                    "name": "Google",
                    "kind": "oidc",
                    "issuer": "https://accounts.google.com",
                    "client_id": "demo",
                    "client_secret": "demo",
                },
                {
                    "key": "facebook",
                    "name": "Facebook",
                    "kind": "facebook",
                    "client_id": "demo",
                    "client_secret": "demo",
                },
            ]
        )
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "idp"), "demo", "--bind", f"127.0.0.1:{port}"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/.well-known/openid-configuration", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the demo server did not start") from None
                    time.sleep(0.3)
            walk(args.chromium, base, Path(tmp) / "instance" / "outbox")
        finally:
            server.terminate()
            server.wait(timeout=15)
    print(f"screenshots written to {OUT}")


def sign_in_on_a_new_browser(browser: Any, base: str, outbox: Path, email: str) -> Page:
    """A demo account signs in on a browser new to it: password, then the emailed code."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit].button")
    page.wait_for_url("**/login/verify")
    found = re.search(r"\b(\d{6})\b", latest_text(outbox, "verification code"))
    assert found is not None
    page.fill("#code", found.group(1))
    page.click("button[type=submit].button")
    page.wait_for_url(base + "/")
    return page


def walk(chromium: str, base: str, outbox: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        temporary = re.search(
            r"Temporary password: (\S+)", latest_text(outbox, "Your My Cambridge account")
        ).group(1)  # type: ignore[union-attr]
        page.goto(base + "/login")
        page.fill("#email", INVITED)
        shoot(page, "sign-in")
        page.fill("#password", "wrong password")
        page.click("button[type=submit].button")
        shoot(page, "sign-in-error")
        page.fill("#email", INVITED)
        page.fill("#password", temporary)
        page.click("button[type=submit].button")
        page.wait_for_url("**/login/set-password")
        page.locator("#password").press_sequentially(NEW_PASSWORD, delay=5)
        page.wait_for_selector("#password-meter:not([hidden])")  # the strength meter
        page.fill("#confirm_password", NEW_PASSWORD)
        shoot(page, "set-password")
        page.click("button[type=submit].button")
        page.wait_for_url("**/login/verify")
        shoot(page, "verify")
        code = re.search(r"\b(\d{6})\b", latest_text(outbox, "verification code")).group(1)  # type: ignore[union-attr]
        page.fill("#code", code)
        page.click("button[type=submit].button")
        page.wait_for_url(base + "/")
        shoot(page, "home")
        page.goto(base + "/account/personal")
        shoot(page, "account-personal")
        page.goto(base + "/account/security")
        shoot(page, "account-security")
        page.goto(base + "/account/security/authenticator")
        shoot(page, "authenticator-setup")
        page.goto(base + "/account/connected")
        shoot(page, "account-connected")
        page.goto(base + "/password/forgot")
        shoot(page, "forgotten-password")
        page.goto(base + "/dev/outbox")
        shoot(page, "mail-outbox")

        # The exams officer, on a browser new to them: the emailed code comes first.
        officer = sign_in_on_a_new_browser(browser, base, outbox, OFFICER)
        officer.goto(base + "/organisation/")
        shoot(officer, "organisation-users")
        officer.click("text=Add user(s)")
        officer.click("button[value=add_row]")
        officer.fill("#given_name-0", "Tom")
        officer.fill("#family_name-0", "Teacher")
        officer.fill("#email-0", "tom.teacher@example.org")
        officer.check("#roles-0-sfa\\.teacher")
        officer.fill("#given_name-1", "Ann")
        officer.fill("#family_name-1", "Arrangements")
        officer.fill("#email-1", "not an address")
        officer.click("button[value=save]")
        shoot(officer, "organisation-add-users")
        officer.goto(base + "/organisation/AA101/users?q=donald")
        officer.click("text=View")
        shoot(officer, "organisation-view-user")
        officer.goto(base + "/organisation/AA101/audit")
        shoot(officer, "organisation-audit-log")

        # The demo services, reached from the home page's tiles: one click, signed in.
        officer.goto(base + "/")
        officer.click(".tile__link:has-text('Submit for Assessment')")
        officer.wait_for_url("http://127.0.0.1:5101/")
        shoot(officer, "service-submit-for-assessment")

        # Donald's submissions live in Submit for Assessment: deleting him waits for a transfer.
        donald = sign_in_on_a_new_browser(browser, base, outbox, "aa101.donald@example.org")
        donald.goto("http://127.0.0.1:5101/")
        donald.click("text=Sign in with My Cambridge")
        # He teaches at two centres: the service asks which one he acts for.
        donald.check("input[name=organisation][value=AA101]")
        donald.click("button:has-text('Continue')")
        donald.wait_for_url("http://127.0.0.1:5101/")
        officer.goto(base + "/organisation/AA101/users?q=donald")
        officer.click("text=View")
        officer.click("a:text-is('Suspend')")
        officer.click("button:has-text('Yes, suspend')")
        officer.click("text=Remove from AA101")
        shoot(officer, "organisation-delete-user")
        page.goto("http://127.0.0.1:5103/")
        page.click("text=Sign in with My Cambridge")
        page.wait_for_url("http://127.0.0.1:5103/")
        shoot(page, "service-global-listening-refused")

        # The operator's clients pages (a browser new to the operator: the emailed code first).
        ops = sign_in_on_a_new_browser(browser, base, outbox, "operator@example.org")
        ops.goto(base + "/operator/clients")
        shoot(ops, "operator-clients")
        ops.click("text=Submit for Assessment")
        shoot(ops, "operator-client")
        browser.close()


if __name__ == "__main__":
    main()
