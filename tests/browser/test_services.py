"""Every demo service a way in, in a browser, each service a real process registered through the
CLI as ``idp demo`` registers it: one click on a home page tile lands the person in the service
signed in, showing their organisation and roles in words; a tile for a service they lack is
locked with a reason, and typing its address gets a refusal that says why and leads home; an
OCR centre's officer sees OCR's look and only OCR's services; a Primary support site teacher
with Progression Test groups can be deleted only once her groups are transferred, and the
colleague who receives them sees them on the support site."""

from __future__ import annotations

from typing import Any

from tests.browser.journeys import activate, sign_in
from tests.browser.pages import check

PASSWORD = "velvet harbour compass 2026"
RECEIVED = "What My Cambridge told this service"
FORGED_DELETE = """([token]) => {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = location.pathname;
  for (const [name, value] of [['csrf_token', token], ['confirm', 'yes']]) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""


def person(site: Any, email: str, first: str, last: str, org: str, *roles: str) -> None:
    options = [option for role in roles for option in ("--role", role)]
    site.idp(
        "users", "create", "--email", email, "--first-name", first, "--last-name", last,
        "--password", PASSWORD, "--org", org, *options,
    )  # fmt: skip


def signed_in(new_page: Any, site: Any, email: str) -> Any:
    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, email, PASSWORD)
    assert page.url == site.base + "/"
    return page


def open_tile(page: Any, site: Any, tile: str, url: str) -> str:
    """One click on the home page's ``tile``: the service's page, signed in, with no second
    "Sign in with My Cambridge" on the way. What the service says it received."""
    page.goto(site.base + "/")
    page.locator(".tile", has_text=tile).get_by_role("link").click()
    page.wait_for_url(url + "/")
    sign_in_again = page.get_by_role("link", name="Sign in with My Cambridge")
    page.get_by_role("heading", name=RECEIVED).or_(sign_in_again).first.wait_for()
    assert sign_in_again.count() == 0, f"{tile}: the tile stopped at the service's sign-in page"
    return str(page.locator(".received").inner_text())


def rows(page: Any) -> list[tuple[str, ...]]:
    return [
        tuple(cell.strip() for cell in row.locator("td").all_inner_texts())
        for row in page.locator("main table tbody tr").all()
    ]


def test_each_tile_signs_straight_in_and_a_locked_one_says_why(site, services, new_page, axe_js):
    site.idp("orgs", "create", "--code", "SV101", "--name", "Services Test Centre")
    teacher, officer = "sv101.teacher@example.org", "sv101.officer@example.org"
    person(site, officer, "Elsa", "Exams", "SV101", "sfa.exams_officer")
    site.idp("orgs", "set-exams-officer", "SV101", officer)
    person(
        site, teacher, "Pat", "Primary", "SV101",
        "primary.teacher", "sfa.teacher", "aa.nominated_user",
    )  # fmt: skip

    page = signed_in(new_page, site, teacher)
    received = open_tile(page, site, "Cambridge Primary support site", services["primary-support"])
    assert "Pat Primary" in page.locator("header").inner_text()
    assert "SV101 – Services Test Centre" in received
    assert "Teacher: your own Progression Test groups" in received
    page.get_by_role("heading", name="Your Progression Test groups").wait_for()
    assert len(rows(page)) == 3
    check(page, axe_js, "service-primary-support")

    received = open_tile(page, site, "Submit for Assessment", services["submit-for-assessment"])
    assert "SV101 – Services Test Centre" in received
    assert "Teacher: your own submissions" in received
    page.get_by_role("heading", name="Your submissions").wait_for()
    check(page, axe_js)

    received = open_tile(
        page, site, "Apply for Access Arrangements", services["access-arrangements"]
    )
    assert "SV101 – Services Test Centre" in received
    assert "Nominated User: access arrangement applications" in received
    check(page, axe_js)

    # Global Listening is the exams officer's alone: a locked tile that says so, no link.
    page.goto(site.base + "/")
    locked = page.locator(".tile", has_text="Global Listening")
    assert "tile--locked" in (locked.get_attribute("class") or "")
    assert locked.get_by_role("link").count() == 0
    assert "Only the exams officer of SV101 can have this service." in locked.inner_text()
    check(page, axe_js)
    # Its tile's address typed in: refused, with the reason and the way home.
    page.goto(site.base + "/launch/global_listening")
    page.get_by_role("heading", name="You cannot use Global Listening").wait_for()
    assert "Only the exams officer of SV101 can have this service." in page.content()
    check(page, axe_js)
    # The service's own address typed in: it signs her in and refuses her, saying why, with a
    # link back to My Cambridge's home page.
    page.goto(services["global-listening"] + "/")
    page.get_by_role("link", name="Sign in with My Cambridge").click()
    page.get_by_role("heading", name="You cannot use Global Listening").wait_for()
    assert page.url == services["global-listening"] + "/"
    assert "your centre's exams officer holds this service" in page.content()
    check(page, axe_js)
    page.get_by_role("link", name="Back to My Cambridge").click()
    page.wait_for_url(site.base + "/")
    page.get_by_role("heading", name="Welcome, Pat").wait_for()

    # The exams officer: Global Listening and Submit for Assessment, as the exams officer.
    page = signed_in(new_page, site, officer)
    received = open_tile(page, site, "Global Listening", services["global-listening"])
    assert "SV101 – Services Test Centre" in received
    assert "Exams Officer: confidential listening audio" in received
    check(page, axe_js)
    received = open_tile(page, site, "Submit for Assessment", services["submit-for-assessment"])
    assert "Exams Officer: every submission of the centre" in received
    page.get_by_role("heading", name="All submissions for SV101 – Services Test Centre").wait_for()
    assert "Pat Primary" in page.locator("#teachers").inner_text()
    check(page, axe_js)


def test_ocr_officer_sees_ocr_look_and_only_ocr_services(site, services, new_page, axe_js):
    site.idp("orgs", "create", "--code", "OC501", "--name", "OCR Services Centre", "--brand", "ocr")
    officer = "oc501.officer@example.org"
    person(site, officer, "Orla", "Interchange", "OC501", "ocr.interchange")
    site.idp("orgs", "set-exams-officer", "OC501", officer)

    page = signed_in(new_page, site, officer)
    assert page.locator("body").get_attribute("class") == "look-ocr"
    header = page.locator("header .brand")
    assert header.locator(".brand__board").inner_text() == "Cambridge OCR"
    assert header.locator(".brand__mark").inner_text() == "OCR"
    brands = page.locator(".brand-group__name").all_inner_texts()
    assert brands == ["Cambridge OCR"]
    tiles = page.locator(".tile .tile__name").all_inner_texts()
    assert sorted(tiles) == ["My Cambridge (OCR)", "OCR Interchange"]
    check(page, axe_js)

    received = open_tile(page, site, "OCR Interchange", services["ocr-interchange"])
    assert "Orla Interchange" in page.locator("header").inner_text()
    assert "OC501 – OCR Services Centre" in received
    assert "OCR Interchange: entries and results for the centre" in received
    page.get_by_role("heading", name="OCR Interchange for OC501 – OCR Services Centre").wait_for()
    check(page, axe_js)

    # A Cambridge International service is no service of her board: its tile's address is
    # not found (no page tells her to ask her exams officer for it).
    assert page.goto(site.base + "/launch/submit_for_assessment").status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    assert page.locator("body").get_attribute("class") == "look-ocr"
    check(page, axe_js)

    # Her other tile: My Cambridge's own pages for her centre, in OCR's look.
    page.goto(site.base + "/")
    page.get_by_role("link", name="My Cambridge (OCR)").click()
    page.get_by_role("heading", name="OC501 – OCR Services Centre").wait_for()
    assert page.locator("body").get_attribute("class") == "look-ocr"
    check(page, axe_js)


def test_teacher_with_groups_is_deleted_only_after_they_are_transferred(
    site, services, new_page, axe_js
):
    site.idp("orgs", "create", "--code", "SV201", "--name", "Primary Data Centre")
    officer = "sv201.officer@example.org"
    leaving, colleague = "sv201.petra@example.org", "sv201.ravi@example.org"
    person(site, officer, "Erin", "Exams", "SV201", "sfa.exams_officer")
    site.idp("orgs", "set-exams-officer", "SV201", officer)
    person(site, colleague, "Ravi", "Receiver", "SV201", "primary.teacher")
    # The exams officer adds Petra (an account of SV201's making: deleting her deletes it).
    page = signed_in(new_page, site, officer)
    page.goto(site.base + "/organisation/SV201/users")
    page.get_by_role("link", name="Add user(s)").click()
    page.fill("#given_name-0", "Petra")
    page.fill("#family_name-0", "Groups")
    page.fill("#email-0", leaving)
    page.check("#roles-0-primary\\.teacher")
    page.locator("button[value=save]").click()
    page.get_by_role("heading", name="Invitations sent").wait_for()

    # Petra activates her account; the support site shows her Progression Test groups.
    teacher = new_page()
    activate(teacher, site.base, site.mailbox, axe_js, leaving, PASSWORD)
    open_tile(teacher, site, "Cambridge Primary support site", services["primary-support"])
    groups = rows(teacher)
    assert len(groups) == 3

    # The exams officer suspends her, then opens the page that deletes her.
    page.goto(site.base + "/organisation/SV201/users")
    page.get_by_role("link", name="View Petra Groups").click()
    page.get_by_role("link", name="Suspend").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, suspend Petra Groups").click()
    page.get_by_role("link", name="Delete this user").click()
    page.get_by_role("heading", name="Delete Petra Groups", exact=True).wait_for()
    holdings = page.locator("#holdings").inner_text()
    assert "Cambridge Primary support site: holds data of Petra (3 Progression Test groups)" in (
        holdings
    )
    assert "Transfer it to another person before deleting." in holdings
    assert page.get_by_role("button", name="Yes, delete Petra Groups").count() == 0
    page.get_by_text("Delete is offered once no service holds data of Petra.").wait_for()
    check(page, axe_js)

    # The Yes the page does not offer, sent all the same: refused, and she is still there.
    token = page.locator("input[name=csrf_token]").first.input_value()
    with page.expect_navigation():
        page.evaluate(FORGED_DELETE, [token])
    page.get_by_text(
        "A service may still hold data of Petra Groups: transfer it before deleting."
    ).wait_for()
    page.get_by_role("heading", name="Delete Petra Groups", exact=True).wait_for()
    check(page, axe_js)

    # The groups go to Ravi; then the deletion goes through.
    page.get_by_label("Transfer to").select_option(label=f"Ravi Receiver ({colleague})")
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer data").click()
    # Asked first: the groups are Ravi's from then on.
    page.get_by_role(
        "heading", name="Transfer the data of Petra Groups to Ravi Receiver?"
    ).wait_for()
    check(page, axe_js)
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, transfer to Ravi Receiver").click()
    page.get_by_text(
        "Cambridge Primary support site has transferred the data of Petra Groups to Ravi Receiver."
    ).wait_for()
    assert (
        "Cambridge Primary support site: holds no data of Petra."
        in page.locator("#holdings").inner_text()
    )
    check(page, axe_js)
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, delete Petra Groups").click()
    page.get_by_text("Petra Groups has been deleted.").wait_for()
    assert page.url == site.base + "/organisation/SV201/users"
    assert page.get_by_role("link", name="View Petra Groups").count() == 0
    check(page, axe_js)

    # Ravi sees Petra's groups among his own on the support site.
    receiver = signed_in(new_page, site, colleague)
    open_tile(receiver, site, "Cambridge Primary support site", services["primary-support"])
    received = rows(receiver)
    assert len(received) == 6
    assert all(group in received for group in groups)
    check(receiver, axe_js)
