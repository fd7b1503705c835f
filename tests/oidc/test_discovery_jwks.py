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


def test_documents_from_memory_match_what_flask_built(client):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        first, second = client.get(path), client.get(path)
        assert first.get_data() == second.get_data()
        assert sorted(first.headers.items()) == sorted(second.headers.items())
        assert second.headers["Cache-Control"] == "public, max-age=300"
        assert second.headers["Access-Control-Allow-Origin"] == "*"
        assert second.headers["X-Content-Type-Options"] == "nosniff"
        head = client.head(path)
        assert head.status_code == 200 and head.get_data() == b""


def test_jwks_in_memory_follows_a_rotation(client, app):
    before = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    new = app.extensions["idp.keyring"].rotate("RS256")
    after = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert after == before | {new.kid}


def test_other_methods_are_not_answered_from_memory(client):
    client.get("/jwks.json")
    assert client.post("/jwks.json").status_code == 405


def test_public_documents_do_not_vary_by_cookie(client):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        client.get(path)
        assert "Cookie" not in client.get(path).headers.get("Vary", "")


def test_public_documents_never_hand_one_browsers_cookie_to_another(app, make):
    from tests.journeys import location, sign_in

    make.user("jane@example.org")
    jane, stranger = app.test_client(), app.test_client()
    assert location(sign_in(jane, "jane@example.org")) == "/"
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        # A link from another site with ?lang= changes Jane's session: her cookie is sent again.
        mine = jane.get(path + "?lang=es", headers={"Sec-Fetch-Site": "cross-site"})
        assert mine.headers.get("Set-Cookie")
        assert "Set-Cookie" not in stranger.get(path).headers
    assert stranger.get("/account/personal").status_code == 302, "signed in as Jane"


def test_discovery_lists_the_algorithms_the_keyring_signs_with(client, app):
    from sqlalchemy import delete

    from idp.extensions import db
    from idp.models import SigningKey

    keyring = app.extensions["idp.keyring"]
    db.session.execute(delete(SigningKey).where(SigningKey.alg == "ES256"))
    db.session.commit()
    keyring.invalidate()
    path = "/.well-known/openid-configuration"
    assert client.get(path).get_json()["id_token_signing_alg_values_supported"] == ["RS256"]
    keyring.rotate("ES256")
    # The document kept in memory follows the rotation, as the JWKS does.
    algorithms = client.get(path).get_json()["id_token_signing_alg_values_supported"]
    assert algorithms == ["RS256", "ES256"]
