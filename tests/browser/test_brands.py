"""The home page by brand in a browser: a Cambridge International teacher with a support site's
admin rights sees her tiles under Cambridge International Education (one not available yet); the
exams officer of an OCR centre sees OCR's services in OCR's look and reaches My Organisation
from a tile. Both pass axe-core (contrast included) at 1280 and 360 px."""

from __future__ import annotations

from tests.browser.journeys import sign_in
from tests.browser.pages import check

TEACHER = "brands.teacher@example.org"
OFFICER = "brands.ocr@example.org"
PASSWORD = "copper heron meadow 2026"


def test_home_page_by_brand_and_in_ocr_look(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "BR101", "--name", "Brand Test Centre")
    site.idp("orgs", "create", "--code", "OC401", "--name", "OCR Test Centre", "--brand", "ocr")
    site.idp(
        "users", "create", "--email", TEACHER, "--first-name", "Tess", "--last-name", "Teacher",
        "--password", PASSWORD, "--org", "BR101", "--role", "sfa.teacher",
        "--role", "ssh.teacher", "--role", "ssh.admin",
    )  # fmt: skip
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Orla", "--last-name", "Officer",
        "--password", PASSWORD, "--org", "OC401", "--role", "ocr.interchange",
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "OC401", OFFICER)

    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, TEACHER, PASSWORD)
    page.get_by_role("heading", name="Cambridge International Education").wait_for()
    hub = page.locator(".tile", has_text="School Support Hub")
    assert "Your roles: Teacher, Administrator" in hub.inner_text()
    assert "Not available yet" in hub.inner_text()
    assert page.locator("body").get_attribute("class") == "look-cambridge-international"
    check(page, axe_js, "home-by-brand")
    page.context.clear_cookies()

    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, OFFICER, PASSWORD)
    page.get_by_role("heading", name="Cambridge OCR", exact=True).wait_for()
    assert page.locator("body").get_attribute("class") == "look-ocr"
    assert "Cambridge OCR" in page.locator("header").inner_text()
    interchange = page.get_by_role("link", name="OCR Interchange")
    assert interchange.get_attribute("href") == "/launch/ocr_interchange"
    check(page, axe_js, "home-ocr")
    page.get_by_role("link", name="My Cambridge (OCR)").click()
    page.get_by_role("heading", name="Users").wait_for()
    assert page.locator("body").get_attribute("class") == "look-ocr"
    check(page, axe_js)
