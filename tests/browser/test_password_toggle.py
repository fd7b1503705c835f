"""Show / hide on password fields: the typed password can be checked before it is sent."""

from __future__ import annotations

from tests.browser.journeys import sign_in
from tests.browser.pages import check

ADDRESS = "toggle@example.org"
PASSWORD = "hidden lantern meadow 2026"


def test_show_and_hide_the_password_then_sign_in(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "PT101", "--name", "Password Toggle Centre")
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Tia", "--last-name", "Toggle",
        "--password", PASSWORD, "--org", "PT101", "--role", "sfa.teacher",
    )  # fmt: skip
    page = new_page()
    page.goto(site.base + "/login")
    field = page.get_by_label("Password", exact=True)
    field.fill(PASSWORD)
    assert field.get_attribute("type") == "password"

    page.get_by_role("button", name="Show password").click()
    assert field.get_attribute("type") == "text"
    assert field.input_value() == PASSWORD
    page.get_by_text("Your password is visible.").wait_for(state="attached")
    check(page, axe_js, "sign-in-password-shown")

    page.get_by_role("button", name="Hide password").click()
    assert field.get_attribute("type") == "password"
    page.get_by_text("Your password is hidden.").wait_for(state="attached")

    # Shown when the form is sent: it goes as a password field (for the browser's password
    # manager), and signs in.
    page.get_by_role("button", name="Show password").click()
    page.evaluate(
        """() => {
             const field = document.getElementById('password');
             field.form.addEventListener(
               'submit', () => sessionStorage.setItem('sentAs', field.type));
           }"""
    )
    sign_in(page, site.mailbox, ADDRESS, PASSWORD)
    assert page.evaluate("() => sessionStorage.getItem('sentAs')") == "password"
    assert page.url == site.base + "/"


def test_each_new_password_field_has_its_own_toggle_in_spanish(site, new_page, axe_js):
    page = new_page()
    page.goto(site.base + "/signup?lang=es")
    page.get_by_role("button", name="Mostrar contraseña", exact=True).click()
    assert page.locator("#password").get_attribute("type") == "text"
    assert page.locator("#confirm_password").get_attribute("type") == "password"
    page.get_by_role("button", name="Ocultar contraseña", exact=True).wait_for()
    page.get_by_role("button", name="Mostrar confirme la contraseña", exact=True).wait_for()
    check(page, axe_js, "sign-up-password-shown")


def test_typing_before_the_script_arrives_is_kept_and_so_is_the_focus(site, new_page):
    page = new_page()
    page.route("**/password-toggle.js*", lambda route: route.abort())  # not yet
    page.goto(site.base + "/login")
    page.locator("#password").click()
    page.keyboard.type("abc")
    assert page.get_by_role("button", name="Show password").count() == 0
    page.unroute("**/password-toggle.js*")
    page.add_script_tag(url=site.base + "/static/password-toggle.js")  # ... now it comes
    page.get_by_role("button", name="Show password").wait_for()
    page.keyboard.type("def")
    assert page.evaluate("() => document.activeElement.id") == "password"
    assert page.locator("#password").input_value() == "abcdef"
