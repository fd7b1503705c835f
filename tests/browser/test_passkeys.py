"""Passkeys in Chromium, with its virtual authenticator (the DevTools protocol's WebAuthn
domain plays a phone with a fingerprint reader): added from Account → Security, then the
only thing needed to sign in; a copy of it whose counter is behind is refused and audited;
a passkey made for another site is never offered; renamed, removed."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from idp.cli import cli
from tests.browser.journeys import (
    sign_in,
    sign_out,
    submit,
    virtual_authenticator,
    without_autofill,
)
from tests.browser.pages import check

ADDRESS = "keen@example.org"
PASSWORD = "granite orchid compass 2026"


def refusals(site: Any) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["audit", "export", "--action", "sign_in.passkey_refused"], obj=site.cli, env=site.env
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_add_a_passkey_then_sign_in_with_it_alone(site, new_page, axe_js):
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Kim", "--last-name", "Keen",
        "--password", PASSWORD,
    )  # fmt: skip
    page = new_page()
    cdp, authenticator = virtual_authenticator(page)
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    page.goto(site.base + "/account/security")
    page.get_by_role("heading", name="Passkeys").wait_for()
    check(page, axe_js, "account-security-passkeys")

    page.get_by_label("Name of the new passkey").fill("Test laptop")
    submit(page, "Add a passkey")
    page.get_by_text('Your passkey "Test laptop" has been added.').wait_for()
    check(page, axe_js)
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(held) == 1 and held[0]["isResidentCredential"]

    # Signed out, the sign-in page is all it takes: the browser offers the passkey in the
    # address field (autofill), and it signs in; no address, password or code.
    sign_out(page)
    page.goto(site.base + "/login")
    page.wait_for_url(site.base + "/")
    page.get_by_role("heading", name="Welcome, Kim").wait_for()
    # Where the browser has no autofill, the button does the same.
    sign_out(page)
    without_autofill(page)
    page.goto(site.base + "/login")
    check(page, axe_js, "sign-in-passkey")
    submit(page, "Sign in with a passkey")
    assert page.url == site.base + "/"
    page.get_by_role("heading", name="Welcome, Kim").wait_for()

    # A copy of the passkey whose counter is behind the original's (a clone) is refused.
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    clone_page = new_page()
    without_autofill(clone_page)
    clone_cdp, clone = virtual_authenticator(clone_page)
    clone_cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": clone, "credential": {**held[0], "signCount": 0}},
    )
    clone_page.goto(site.base + "/login")
    submit(clone_page, "Sign in with a passkey")
    clone_page.get_by_text("it looks like a copy of another").wait_for()
    assert clone_page.url == site.base + "/login/passkey"
    check(clone_page, axe_js)
    assert [e["details"]["reason"] for e in refusals(site)] == ["PasskeyCloned"]

    # A passkey made for another site is never offered here: the browser finds none.
    other_page = new_page()
    without_autofill(other_page)
    other_cdp, other = virtual_authenticator(other_page)
    other_cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": other, "credential": {**held[0], "rpId": "sso.example.net"}},
    )
    other_page.goto(site.base + "/login")
    other_page.locator("main").get_by_role("button", name="Sign in with a passkey").click()
    other_page.get_by_text("No passkey was used.").wait_for()
    assert other_page.url == site.base + "/login"

    # Renamed, then removed (after a question): the button no longer signs in.
    page.goto(site.base + "/account/security")
    page.get_by_role("link", name="Rename the passkey Test laptop").click()
    check(page, axe_js)
    page.get_by_label("New name").fill("Old laptop")
    submit(page, "Save name")
    page.get_by_role("link", name="Remove the passkey Old laptop").click()
    check(page, axe_js, "passkey-remove")
    submit(page, "Remove passkey")
    page.get_by_text("You have not added a passkey yet.").wait_for()
    sign_out(page)
    page.goto(site.base + "/login")
    submit(page, "Sign in with a passkey")
    page.get_by_text("That passkey could not be used here.").wait_for()


def test_the_sign_in_page_in_spanish_offers_a_passkey(site, new_page, axe_js):
    page = new_page()
    virtual_authenticator(page)
    page.goto(site.base + "/login?lang=es")
    page.locator("main").get_by_role(
        "button", name="Iniciar sesión con una llave de acceso"
    ).wait_for()
    check(page, axe_js)


def test_a_role_that_needs_a_passkey_walks_its_holder_through_adding_one(site, new_page, axe_js):
    """The browser tests' provider requires a passkey of the Lower Secondary support site's
    administrators (``auth.phishing_resistant_roles``): at her next sign-in she adds one before
    anything else, keeps her recovery codes, and from then on the passkey follows her
    password."""
    site.idp("orgs", "create", "--code", "PK101", "--name", "Passkey Centre")
    site.idp(
        "users", "create", "--email", "lsa@example.org", "--first-name", "Lena",
        "--last-name", "Admin", "--password", PASSWORD, "--org", "PK101",
        "--role", "lowersec.admin",
    )  # fmt: skip
    page = new_page()
    without_autofill(page)
    virtual_authenticator(page)
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, "lsa@example.org", PASSWORD)
    assert page.url.startswith(site.base + "/account/passkey-required")
    page.get_by_role("heading", name="Add a passkey to continue").wait_for()
    check(page, axe_js, "passkey-required")
    page.goto(site.base + "/account/passkey-required?lang=es")
    page.get_by_role("heading", name="Añada una llave de acceso para continuar").wait_for()
    check(page, axe_js)
    page.goto(site.base + "/account/passkey-required?lang=en")
    page.goto(site.base + "/")  # nothing else opens first
    assert page.url.startswith(site.base + "/account/passkey-required")

    page.get_by_label("Name of the new passkey").fill("Office PC")
    submit(page, "Add a passkey")
    assert page.locator(".codes li").count() == 10
    check(page, axe_js)
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved my codes").click()
    assert page.url == site.base + "/"
    page.get_by_role("heading", name="Welcome, Lena").wait_for()

    # Her password is now followed by the passkey (this browser needs no emailed code).
    sign_out(page)
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, "lsa@example.org", PASSWORD)
    assert page.url == site.base + "/login/passkey-step"
    check(page, axe_js, "sign-in-passkey-step")
    submit(page, "Use my passkey")
    assert page.url == site.base + "/"
