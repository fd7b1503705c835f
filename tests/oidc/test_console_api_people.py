"""The console API's people: a client calling as itself with console.read finds a person by
address and reads their profile; without the scope it is refused, without a token unknown."""

from __future__ import annotations

import base64

import pyotp
import pytest

from idp import clock
from idp.domain import totp
from idp.extensions import db
from tests.journeys import location, sign_in
from tests.oidc_helpers import RelyingParty


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _token(rp: RelyingParty) -> str:
    response = rp.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(rp.client_id, rp.registered.secret),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _get(rp: RelyingParty, path: str, token: str | None, **query: str):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return rp.http.get(path, headers=headers, query_string=query)


@pytest.fixture
def tool(client, make):
    """The exam board's own support tool, granted console.read by an operator."""
    return RelyingParty(client, make.client(api_scopes=("console.read",)))


@pytest.fixture
def tom(make, app):
    org = make.org("AA101", name="Dummy Centre A")
    person = make.user(
        "tom@example.org", given_name="Tom", family_name="Teacher", org=org, roles=("sfa.teacher",)
    )
    browser = app.test_client()
    assert location(sign_in(browser, "tom@example.org")) == "/"
    secret = totp.new_secret()
    totp.enable(person, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    db.session.commit()
    return person


def test_found_by_address_exactly_else_404_in_the_same_shape(tool, tom):
    token = _token(tool)
    hit = _get(tool, "/api/console/people", token, email="TOM@example.org")
    assert hit.status_code == 200
    assert hit.headers["Cache-Control"] == "no-store"
    assert hit.get_json()["sub"] == tom.sub and hit.get_json()["name"] == "Tom Teacher"
    miss = _get(tool, "/api/console/people", token, email="tom@example.com")
    assert miss.status_code == 404 and miss.get_json()["error"] == "not_found"
    assert _get(tool, "/api/console/people", token).status_code == 400


def test_the_profile_names_roles_and_factors_without_secrets_or_ip_addresses(tool, tom):
    token = _token(tool)
    found = _get(tool, f"/api/console/people/{tom.sub}", token)
    assert found.status_code == 200
    body = found.get_json()
    assert body["organisations"][0]["roles"] == ["Submit for Assessment: Teacher"]
    assert body["factors"]["authenticator_app"] is True
    assert body["factors"]["recovery_codes_left"] == 10
    assert len(body["sessions"]) == 1 and "ip" not in body["sessions"][0]
    text = found.get_data(as_text=True)
    assert "127.0.0.1" not in text and tom.password_hash not in text
    assert tom.totp_secret_enc not in text
    assert _get(tool, "/api/console/people/u_nobody", token).status_code == 404
    # Found by address: the same answer.
    by_address = _get(tool, "/api/console/people", token, email="tom@example.org").get_json()
    assert by_address == body


def test_without_console_read_refused_and_without_a_token_unknown(client, make, tom):
    other = RelyingParty(client, make.client(api_scopes=("users.read",)))
    token = _token(other)
    for path in ("/api/console/people?email=tom@example.org", f"/api/console/people/{tom.sub}"):
        assert other.http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 403
        assert other.http.get(path).status_code == 401
