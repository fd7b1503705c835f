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
