"""Account → Your data: a person downloads what the service holds about them, and only that."""

from __future__ import annotations

import json

from idp.domain import audit
from tests.journeys import confirm_address_change, location, page_text, sign_in, submit


def _download(client) -> dict:
    response = client.get("/account/data")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="my-cambridge-data-'
    )
    return json.loads(response.get_data(as_text=True))


def test_a_person_downloads_their_account_roles_and_activity(client, centre, make):
    assert location(sign_in(client, "donald@example.org")) == "/"
    assert "Download my data (JSON)" in page_text(client.get("/account/personal"))
    data = _download(client)
    assert data["account"]["given_name"] == "Donald" and data["account"]["status"] == "active"
    assert data["email_addresses"] == [
        {
            "address": "donald@example.org",
            "main": True,
            "verified_at": data["email_addresses"][0]["verified_at"],
        }
    ]
    assert data["organisations"] == [
        {
            "code": "AA101",
            "name": "AA Dummy Centre A (CIC)",
            "roles": [{"key": "sfa.teacher", "name": "Submit for Assessment: Teacher"}],
        }
    ]
    assert len(data["signed_in_sessions"]) == 1
    assert data["activity"][0]["action"] == "sign_in.succeeded"
    assert data["activity"][0]["by"] == "you" and data["activity"][0]["ip"]
    text = json.dumps(data)
    for secret in ("$argon2", "password_hash", "totp_secret", "code_hash", "token"):
        assert secret not in text
    downloads = list(audit.stream(audit.Filter(action="user.data_downloaded")))
    assert len(downloads) == 1


def test_an_officers_actions_show_without_the_officer_or_anyone_elses_data(
    app, client, centre, make, mailbox
):
    officer = app.test_client()
    assert location(sign_in(officer, "officer@example.org")) == "/"
    dora = make.user("dora@example.org", given_name="Dora", org=centre, roles=("sfa.teacher",))
    view = f"/organisation/AA101/users/{dora.sub}"
    submit(officer, f"{view}/email", {"email": "dora.new@example.org"}, page_url=view)
    confirm_address_change(app.test_client(), mailbox, "dora.new@example.org")

    assert location(sign_in(client, "dora.new@example.org")) == "/"
    mine = _download(client)
    changed = next(e for e in mine["activity"] if e["action"] == "management.email_changed")
    assert changed["by"] == "someone else" and "ip" not in changed
    assert "officer@example.org" not in json.dumps(mine)

    # The officer's own copy lists the change as an action with its time, nothing of Dora's.
    theirs = _download(officer)
    done = next(e for e in theirs["activity"] if e["action"] == "management.email_changed")
    assert done["by"] == "you" and "details" not in done
    assert "dora" not in json.dumps(theirs)


def test_nobody_signed_in_gets_nothing(client):
    response = client.get("/account/data")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
