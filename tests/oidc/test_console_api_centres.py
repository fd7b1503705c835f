"""The console's centre search as a read-only API, for a client calling as itself with the
scope ``console.read``, which only an operator grants."""

from __future__ import annotations

import base64

import pytest

from tests.oidc_helpers import RelyingParty


def _token(rp: RelyingParty, scope: str) -> str:
    raw = base64.b64encode(f"{rp.client_id}:{rp.registered.secret}".encode()).decode()
    response = rp.http.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _get(rp: RelyingParty, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return rp.http.get(path, headers=headers)


@pytest.fixture
def tool(client, make):
    """The exam board's own tool, granted console.read (and users.read) by an operator."""
    return RelyingParty(client, make.client(api_scopes=("console.read", "users.read")))


@pytest.fixture
def centres(make, centre, teacher):
    make.exams_officer(centre)
    make.org("CA200", name="Associate Trust")
    make.org("CA201", name="Trust School", associate_of="CA200")
    return centre


def test_the_search_and_the_summary(tool, centres):
    token = _token(tool, "console.read")
    found = _get(tool, "/api/console/centres?q=Dumy+Centre", token)
    assert found.status_code == 200 and found.headers["Cache-Control"] == "no-store"
    (only,) = found.get_json()["centres"]
    assert only["code"] == "AA101" and only["exams_officer"] == centres.exams_officer.sub
    listed = _get(tool, "/api/console/centres?q=ca2&associates_of=CA200", token).get_json()
    assert [c["code"] for c in listed["centres"]] == ["CA201"]
    assert (
        _get(tool, "/api/console/centres?q=ca&limit=1", token).get_json()["centres"][0]["code"]
        == "CA200"
    )
    assert _get(tool, "/api/console/centres?limit=0", token).status_code == 400
    assert _get(tool, "/api/console/centres?associates_of=NOPE1", token).status_code == 404
    summary = _get(tool, "/api/console/centres/aa101", token).get_json()
    assert summary["exams_officer"]["email"] == "officer@example.org"
    assert summary["members"] == {"active": 2, "invited": 0, "suspended": 0}
    assert "events" not in summary
    assert [
        c["code"] for c in _get(tool, "/api/console/centres/CA200", token).get_json()["associates"]
    ] == ["CA201"]
    assert _get(tool, "/api/console/centres/NOPE1", token).status_code == 404


def test_a_token_without_console_read_is_forbidden_and_none_is_unauthorised(tool, centres):
    other = _token(tool, "users.read")
    for path in ("/api/console/centres?q=aa", "/api/console/centres/AA101"):
        refused = _get(tool, path, other)
        assert refused.status_code == 403, path
        assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
        assert _get(tool, path, None).status_code == 401
        assert _get(tool, path, "made-up").status_code == 401
