"""client_credentials (RFC 6749 §4.4) and the API it opens: a service asks the provider for a
centre's people, with only the API scopes an operator granted it, and sees only the people and
roles of its own services."""

from __future__ import annotations

import base64

import pytest

from idp import clock
from idp.domain import clients, management
from idp.extensions import db
from tests.oidc_helpers import RelyingParty


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def service(client, make):
    """Submit for Assessment's back end, granted users.read by an operator."""
    return RelyingParty(client, make.client(api_scopes=("users.read",)))


def _token(rp: RelyingParty, **form: str):
    return rp.http.post(
        "/token",
        data={"grant_type": "client_credentials", **form},
        headers=_basic(rp.client_id, rp.registered.secret),
    )


def _get(rp: RelyingParty, path: str, token: str):
    return rp.http.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def people(make, centre, teacher):
    officer = make.exams_officer(centre, roles=("user_management", "sfa.exams_officer"))
    make.user("aa.only@example.org", org=centre, roles=("aa.nominated_user",))
    make.user("nobody@example.org", org=centre, roles=())
    return {"officer": officer, "teacher": teacher}


def test_a_granted_client_gets_an_access_token_and_nothing_else(service):
    response = _token(service)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "users.read"
    assert "refresh_token" not in body and "id_token" not in body


def test_only_granted_api_scopes_may_be_asked_for(service):
    for scope in ("organisations.read", "openid", "users.read profile", "offline_access"):
        response = _token(service, scope=scope)
        assert response.status_code == 400, scope
        assert response.get_json()["error"] == "invalid_scope"
    assert _token(service, scope="users.read").get_json()["scope"] == "users.read"
    # Found by the fuzzer: a scope outside printable ASCII must not reach error_description.
    odd = _token(service, scope="\x1b users.rëad")
    assert odd.status_code == 400 and odd.get_json()["error"] == "invalid_scope"


def test_a_client_without_api_access_or_credentials_is_refused(client, make):
    plain = RelyingParty(client, make.client())
    response = _token(plain)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"
    public = make.client(public=True)
    response = client.post(
        "/token", data={"grant_type": "client_credentials", "client_id": public.client_id}
    )
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] in ("invalid_client", "unauthorized_client")


def test_a_wrong_secret_gets_no_token(service):
    response = service.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(service.client_id, "not-the-secret"),
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_the_api_lists_only_the_people_and_roles_of_the_clients_services(service, people):
    token = _token(service).get_json()["access_token"]
    response = _get(service, "/api/organisations/AA101/users", token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["organisation"] == {
        "code": "AA101",
        "name": "AA Dummy Centre A (CIC)",
        "brand": "cambridge-international",
    }
    listed = {u["email"]: u for u in body["users"]}
    # The Access Arrangements-only user and the member with no role are not this client's
    # business; neither are the teacher's Access Arrangements or the officer's other roles.
    assert set(listed) == {"teacher@example.org", "officer@example.org"}
    assert listed["teacher@example.org"]["roles"] == ["sfa.teacher"]
    assert listed["officer@example.org"]["roles"] == ["sfa.exams_officer"]
    assert listed["teacher@example.org"]["sub"] == people["teacher"].sub
    assert listed["teacher@example.org"]["status"] == "active"
    assert body["total"] == 2


def test_the_api_pages_and_filters(service, make, centre):
    for n in range(5):
        make.user(f"t{n}@example.org", given_name=f"T{n}", org=centre, roles=("sfa.teacher",))
    token = _token(service).get_json()["access_token"]
    first = _get(service, "/api/organisations/AA101/users?per_page=2", token).get_json()
    assert first["total"] == 5 and len(first["users"]) == 2
    second = service.http.get(
        first["next"].removeprefix("http://localhost"),
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    assert second["page"] == 2
    assert not {u["sub"] for u in first["users"]} & {u["sub"] for u in second["users"]}
    officers = _get(service, "/api/organisations/AA101/users?role=sfa.exams_officer", token)
    assert officers.get_json()["users"] == []
    for bad in ("per_page=0", "per_page=101", "page=x", "role=aa.nominated_user", "status=gone"):
        response = _get(service, f"/api/organisations/AA101/users?{bad}", token)
        assert response.status_code == 400, bad
        assert response.get_json()["error"] == "invalid_request"


def test_a_role_change_shows_at_the_next_call(app, service, people, centre):
    token = _token(service).get_json()["access_token"]
    catalogue = app.extensions["idp.settings"].catalogue
    management.change_roles(
        people["officer"], centre, people["teacher"], ["aa.nominated_user"], catalogue
    )
    db.session.commit()
    listed = _get(service, "/api/organisations/AA101/users", token).get_json()["users"]
    assert "teacher@example.org" not in {u["email"] for u in listed}


def test_other_brands_and_unknown_centres_are_not_found(service, make):
    make.org("OC100", brand="ocr")
    token = _token(service).get_json()["access_token"]
    for code in ("OC100", "ZZ999"):
        response = _get(service, f"/api/organisations/{code}/users", token)
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


def test_the_api_asks_for_the_right_scope(client, make, centre, people):
    both = RelyingParty(client, make.client(api_scopes=("organisations.read", "users.read")))
    org_only = _token(both, scope="organisations.read").get_json()["access_token"]
    response = _get(both, "/api/organisations/AA101/users", org_only)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    described = _get(both, "/api/organisations/AA101", org_only)
    assert described.status_code == 200
    assert described.get_json()["code"] == "AA101"


def test_the_api_needs_a_live_token(service, people):
    assert service.http.get("/api/organisations/AA101/users").status_code == 401
    assert _get(service, "/api/organisations/AA101/users", "made-up").status_code == 401
    token = _token(service).get_json()
    clock.advance(token["expires_in"] + 1)
    expired = _get(service, "/api/organisations/AA101/users", token["access_token"])
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_a_persons_token_never_reaches_the_api(service, people):
    # A sign-in asking for an API scope gets a token without it.
    tokens = service.tokens("teacher@example.org", scope="openid users.read")
    assert "users.read" not in tokens["scope"].split()
    response = _get(service, "/api/organisations/AA101/users", tokens["access_token"])
    assert response.status_code == 403


def test_revoking_or_narrowing_access_stops_the_token(app, service, people):
    token = _token(service).get_json()["access_token"]
    assert service.revoke(token).status_code == 200
    assert _get(service, "/api/organisations/AA101/users", token).status_code == 401

    token = _token(service).get_json()["access_token"]
    clients.set_api_access(clients.get(service.client_id), [])
    db.session.commit()
    assert _get(service, "/api/organisations/AA101/users", token).status_code == 401
    assert _token(service).get_json()["error"] == "unauthorized_client"


def test_a_disabled_client_loses_its_tokens(service, people):
    token = _token(service).get_json()["access_token"]
    clients.set_disabled(clients.get(service.client_id), True)
    db.session.commit()
    assert _get(service, "/api/organisations/AA101/users", token).status_code == 401


def test_introspection_describes_a_client_token(service):
    token = _token(service).get_json()["access_token"]
    body = service.introspect(token).get_json()
    assert body["active"] is True
    assert body["client_id"] == service.client_id
    assert body["scope"] == "users.read"
    assert "sub" not in body and "email" not in body


def test_userinfo_refuses_a_client_token(service):
    token = _token(service).get_json()["access_token"]
    response = service.userinfo(token)
    assert response.status_code == 403


def test_discovery_lists_the_grant_and_the_api_scopes(client):
    document = client.get("/.well-known/openid-configuration").get_json()
    assert "client_credentials" in document["grant_types_supported"]
    assert {"users.read", "organisations.read"} <= set(document["scopes_supported"])


def test_the_api_lists_no_one_who_has_not_accepted_an_invitation_to_join(
    app, service, people, centre, make
):
    """An account invited to join AA101 is not AA101's until it accepts: a service learns
    nothing of it either."""
    bb102 = make.org("BB102")
    olive = make.user("olive@example.org", org=bb102, roles=("sfa.teacher",))
    management.add(
        people["officer"],
        centre,
        management.NewUser("Olive", "Other", "olive@example.org", ("sfa.teacher",)),
        management.ManagementSettings(app.extensions["idp.settings"].catalogue, 3600, 60),
    )
    db.session.commit()
    token = _token(service).get_json()["access_token"]
    body = _get(service, "/api/organisations/AA101/users", token).get_json()
    assert "olive@example.org" not in {u["email"] for u in body["users"]}
    assert olive.sub not in {u["sub"] for u in body["users"]} and body["total"] == 2
