"""My Organisation's users list as a CSV file: what the officer sees, of their organisation."""

from __future__ import annotations

import csv
import io

from idp.domain import audit, users
from idp.web.organisation.csv_import import FORMULA_START, parse, preview
from tests.journeys import location, page_text, sign_in, upload_csv


def _download(client, query: str = "", code: str = "AA101"):
    response = client.get(f"/organisation/{code}/users/download{query}")
    assert response.status_code == 200, response.status_code
    return response


def _rows(response) -> list[dict[str, str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_officer_downloads_every_page_of_the_filtered_list(client, centre, make):
    for i in range(40):
        make.user(
            f"t{i:02d}@example.org",
            given_name=f"Teacher{i:02d}",
            family_name="Xavier",
            org=centre,
            roles=("sfa.teacher",),
        )
    make.user(
        "nina@example.org",
        given_name="Nina",
        family_name="Núñez",
        org=centre,
        roles=("aa.nominated_user", "sfa.teacher"),
    )
    assert location(sign_in(client, "officer@example.org")) == "/"
    listed = page_text(client.get("/organisation/AA101/users?q=teacher&sort=email&dir=desc"))
    assert "Download this list as CSV (all pages)" in listed
    assert "/organisation/AA101/users/download?q=teacher&amp;sort=email&amp;dir=desc" in listed

    response = _download(client, "?q=teacher&sort=email&dir=desc")
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="AA101-users-')
    rows = _rows(response)
    assert len(rows) == 40  # every page, not the 15 on screen; Nina and the officers filtered out
    assert [r["email"] for r in rows][:2] == ["t39@example.org", "t38@example.org"]
    assert rows[0] == {
        "first_name": "Teacher39",
        "last_name": "Xavier",
        "email": "t39@example.org",
        "roles": "Submit for Assessment: Teacher",
        "status": "active",
        "last_sign_in_utc": "",
    }

    everyone = _rows(_download(client))
    nina = next(r for r in everyone if r["email"] == "nina@example.org")
    assert nina["last_name"] == "Núñez"
    assert nina["roles"] == "Access Arrangements Nominated User; Submit for Assessment: Teacher"
    officer = next(r for r in everyone if r["email"] == "officer@example.org")
    assert officer["last_sign_in_utc"]  # signed in just now
    assert len(everyone) == 43  # the officer, Donald, Nina and the 40 teachers

    downloads = [e for e in audit.stream(audit.Filter(action="management.users_downloaded"))]
    assert [(e["target_id"], e["details"]["people"]) for e in downloads] == [
        ("AA101", 40),
        ("AA101", 43),
    ]


def test_the_file_imports_back_and_its_cells_never_run_as_formulas(client, centre, make):
    make.user(
        "eve@example.org",
        given_name='=HYPERLINK("https://evil.example")',
        family_name="+1",
        org=centre,
        roles=("sfa.teacher",),
    )
    assert location(sign_in(client, "officer@example.org")) == "/"
    data = _download(client).get_data()
    eve = next(r for r in _rows(_download(client)) if r["email"] == "eve@example.org")
    assert eve["first_name"] == '\'=HYPERLINK("https://evil.example")'
    assert eve["last_name"] == "'+1"
    # The import reads the download: names, addresses and roles as they were.
    people = {
        p.email: p
        for p in parse(data, centre, client.application.extensions["idp.settings"].catalogue)
    }
    assert people["donald@example.org"].roles == ("sfa.teacher",)
    assert people["officer@example.org"].given_name == "Olga"
    preview = page_text(upload_csv(client, data))
    assert "already a member" in preview.lower()


def test_only_the_organisations_own_officers_can_download(app, client, centre, make):
    other = make.org("BB202", name="Another centre")
    make.exams_officer(other, "lead@example.org")
    make.user("bob@example.org", org=other, roles=("sfa.teacher",))
    assert location(sign_in(client, "officer@example.org")) == "/"
    assert client.get("/organisation/BB202/users/download").status_code == 404
    assert "bob@example.org" not in _download(client).get_data(as_text=True)

    teacher = app.test_client()
    assert location(sign_in(teacher, "donald@example.org")) == "/"
    assert teacher.get("/organisation/AA101/users/download").status_code in (403, 404)
    anonymous = app.test_client().get("/organisation/AA101/users/download")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    downloads = list(audit.stream(audit.Filter(action="management.users_downloaded")))
    assert len(downloads) == 1  # the officer's own; the refused ones wrote nothing


def test_no_cell_runs_as_a_formula_where_spreadsheets_split_on_semicolons(client, centre, make):
    # A spreadsheet opens a .csv with the system's list separator, ';' in Spain and much of
    # Europe: every cell is quoted, so a ';' inside a name starts no new cell.
    make.user("mallory@example.org", given_name="Mallory;=1+1;", family_name="Smith",
              org=centre, roles=("sfa.teacher",))  # fmt: skip
    assert location(sign_in(client, "officer@example.org")) == "/"
    text = _download(client).get_data().decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert [cell for cell in cells if cell.startswith(FORMULA_START)] == []


def test_an_address_starting_with_a_formula_character_imports_back_as_itself(client, centre, make):
    make.user("-jo@example.org", given_name="=Jo", family_name="Dash", org=centre,
              roles=("sfa.teacher",))  # fmt: skip
    assert location(sign_in(client, "officer@example.org")) == "/"
    data = _download(client).get_data()
    jo = next(r for r in _rows(_download(client)) if r["last_name"] == "Dash")
    assert jo["email"] == "'-jo@example.org" and jo["first_name"] == "'=Jo"
    catalogue = client.application.extensions["idp.settings"].catalogue
    people = parse(data, centre, catalogue)
    assert any(p.email == "-jo@example.org" and p.given_name == "=Jo" for p in people)
    officer = users.find_by_email("officer@example.org")
    outcomes = {o.email: o.kind for o in preview(officer, centre, people, catalogue)}
    assert outcomes["-jo@example.org"] == "already_member", outcomes
