"""Token introspection (RFC 7662)."""

from __future__ import annotations

from tests.oidc_helpers import RelyingParty


def test_client_introspects_its_own_access_token(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.introspect(tokens["access_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["active"] is True
    assert body["sub"] == teacher.sub
    assert body["client_id"] == rp.client_id
    assert body["token_type"] == "Bearer"
    assert body["iss"] == "http://localhost"
    assert set(body["scope"].split()) == {"openid", "profile", "email", "roles"}
    assert body["roles"] == ["sfa.teacher"]
    assert body["exp"] > body["iat"]


def test_resource_server_introspects_any_token(rp, teacher, make, client):
    tokens = rp.tokens("teacher@example.org")
    resource_server = RelyingParty(client, make.client(introspect=True))
    body = resource_server.introspect(tokens["access_token"]).get_json()
    assert body["active"] is True and body["client_id"] == rp.client_id


def test_other_client_learns_nothing(rp, teacher, make, client):
    tokens = rp.tokens("teacher@example.org")
    other = RelyingParty(client, make.client())
    assert other.introspect(tokens["access_token"]).get_json() == {"active": False}


def test_revoked_and_unknown_tokens_are_inactive(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    rp.revoke(tokens["access_token"])
    assert rp.introspect(tokens["access_token"]).get_json() == {"active": False}
    assert rp.introspect("made-up").get_json() == {"active": False}


def test_refresh_token_introspection(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    body = rp.introspect(tokens["refresh_token"]).get_json()
    assert body["active"] is True and body["token_type"] == "refresh_token"


def test_introspection_requires_client_authentication(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post("/introspect", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_an_unknown_token_type_hint_is_ignored(rp, teacher):
    """RFC 7662 2.1: a hint the server cannot use widens the search; it is no error."""
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post(
        "/introspect",
        **rp._auth({"token": tokens["access_token"], "token_type_hint": "id_token"}, "basic"),
    )
    assert response.status_code == 200
    assert response.get_json()["active"] is True


def test_the_token_is_read_from_the_body_only(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    headers = rp._auth({}, "basic")["headers"]
    response = rp.http.post(
        "/introspect", query_string={"token": tokens["access_token"]}, headers=headers
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
