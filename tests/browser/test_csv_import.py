"""CSV import in a real browser: the officer uploads a file of 40 people, checks the preview,
imports, and watches the progress page (its script polls, then turns it into the summary),
which lists who was invited and who could not be added and why."""

from __future__ import annotations

from tests.browser.journeys import sign_in, submit
from tests.browser.pages import check

OFFICER = "import.officer@example.org"
PASSWORD = "copper meadow lantern 2026"


def test_officer_imports_a_csv_and_sees_progress_then_a_summary(site, new_page, axe_js, tmp_path):
    site.idp("orgs", "create", "--code", "IM101", "--name", "Import Centre")
    site.idp(
        "users", "create", "--email", OFFICER, "--first-name", "Ivy", "--last-name", "Importer",
        "--password", PASSWORD,
    )  # fmt: skip
    site.idp("orgs", "set-exams-officer", "IM101", OFFICER)
    lines = ["first_name,last_name,email,roles"]
    lines += [f"Pupil{i:02d},Teacher,im101.t{i:02d}@example.org,sfa.teacher" for i in range(40)]
    lines.append("Gil,Listener,im101.gil@example.org,Global Listening")
    upload = tmp_path / "people.csv"
    upload.write_text("\n".join(lines) + "\n")

    page = new_page()
    page.goto(site.base + "/login")
    sign_in(page, site.mailbox, OFFICER, PASSWORD, axe_js)
    page.goto(site.base + "/organisation/IM101/users/import")
    check(page, axe_js)
    page.get_by_label("CSV file").set_input_files(str(upload))
    submit(page)
    page.get_by_role("heading", name="Check before importing").wait_for()
    assert "40 to add, 1 line that will be skipped" in page.inner_text("main")
    check(page, axe_js, "organisation-import-preview")

    submit(page, "Import 40 people")
    assert "/organisation/IM101/users/import/" in page.url
    if page.get_by_role("heading", name="Importing people").count():
        check(page, axe_js, "organisation-import-progress")
    # Running or not when it loaded, the page ends as the summary (the script reloads it).
    page.get_by_role("heading", name="Import summary").wait_for(timeout=30_000)
    main = page.inner_text("main")
    assert "40 of 40 people invited." in main
    assert main.count("Invitation sent") == 40
    check(page, axe_js, "organisation-import-summary")
    site.mailbox.wait_for("im101.t39@example.org", "Your My Cambridge account", timeout=10)
