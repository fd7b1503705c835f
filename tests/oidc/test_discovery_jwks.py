"""Discovery (OpenID Connect Discovery 1.0) and the published keys."""

from __future__ import annotations

import jwt


def test_discovery_document_describes_this_provider(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["issuer"] == "http://localhost"
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        assert doc[name].startswith("http://localhost/"), name
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "plain" not in doc["code_challenge_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "roles", "organisations", "offline_access"} <= set(
        doc["scopes_supported"]
    )
    assert "RS256" in doc["id_token_signing_alg_values_supported"]


def test_discovery_endpoints_are_served(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    jwks_path = doc["jwks_uri"].removeprefix("http://localhost")
    assert client.get(jwks_path).status_code == 200


def test_jwks_publishes_public_keys_only_each_with_a_kid(client):
    response = client.get("/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    keys = response.get_json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"] and key["use"] == "sig" and key["alg"] in ("RS256", "ES256")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private material published"
        jwt.PyJWK(key)  # a JOSE library accepts it
