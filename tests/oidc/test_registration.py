"""Dynamic client registration (RFC 7591) and its management (RFC 7592), driven over HTTP."""

from __future__ import annotations

import pytest

from idp import clock
from idp.domain import registration
from idp.extensions import db
from idp.models import Client
from tests.factories import RegisteredClient
from tests.oidc_helpers import Callback, RelyingParty

GOOD = {
    "client_name": "Revision Planner",
    "redirect_uris": ["https://planner.example.org/callback"],
    "post_logout_redirect_uris": ["https://planner.example.org/"],
    "backchannel_logout_uri": "https://planner.example.org/backchannel-logout",
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "client_secret_basic",
    "scope": "openid profile email roles",
    "software_id": "ignored: unknown fields are ignored",
}


@pytest.fixture
def initial_token(app, make):
    token, _ = registration.issue_initial_token(
        ttl_seconds=3600,
        service_keys=["submit_for_assessment"],
        uses=2,
        catalogue=make.catalogue,
    )
    db.session.commit()
    return token


def _register(client, token: str, body: dict):
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


def test_discovery_names_the_registration_endpoint(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["registration_endpoint"] == "http://localhost/register"


def test_a_registered_client_signs_people_in_after_their_consent(client, initial_token, teacher):
    response = _register(client, initial_token, GOOD)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["client_name"] == "Revision Planner" and body["client_secret_expires_at"] == 0
    assert body["registration_client_uri"] == f"http://localhost/register/{body['client_id']}"
    assert "software_id" not in body
    again = _register(
        client, initial_token, {**GOOD, "frontchannel_logout_uri": "https://planner.example.org/fc"}
    )
    assert again.get_json()["frontchannel_logout_uri"] == "https://planner.example.org/fc"

    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    rp = RelyingParty(
        client,
        RegisteredClient(
            model,
            body["client_id"],
            body["client_secret"],
            GOOD["redirect_uris"][0],
            GOOD["post_logout_redirect_uris"][0],
        ),
    )
    page = rp.follow(rp.submit_login(rp.follow(rp.authorize()), "teacher@example.org"))
    assert not isinstance(page, Callback)  # third-party: consent first
    assert "Revision Planner would like to use your My Cambridge account" in page.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"redirect_uris": []}, "invalid_redirect_uri", "at least one"),
        ({"redirect_uris": ["http://planner.example.org/cb"]}, "invalid_redirect_uri", "https"),
        (
            {"redirect_uris": ["https://planner.example.org/cb#x"]},
            "invalid_redirect_uri",
            "fragment",
        ),
        ({"redirect_uris": "https://planner.example.org/cb"}, "invalid_redirect_uri", "list"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata", "authorization_code"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({"response_types": ["id_token token"]}, "invalid_client_metadata", "response_types"),
        ({"response_types": "code"}, "invalid_client_metadata", "response_types"),
        ({"grant_types": ["authorization_code", 7]}, "invalid_client_metadata", "grant_types"),
        (
            {"token_endpoint_auth_method": "client_secret_jwt"},
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata", "RS256"),
        ({"scope": "openid admin"}, "invalid_client_metadata", "scope"),
        ({"client_name": ""}, "invalid_client_metadata", "client_name"),
        ({"backchannel_logout_uri": "ftp://x"}, "invalid_client_metadata", "https"),
        (
            {"frontchannel_logout_uri": "http://x.example.org/fc"},
            "invalid_client_metadata",
            "https",
        ),
        ({"post_logout_redirect_uris": [1]}, "invalid_client_metadata", "list"),
    ],
)
def test_bad_metadata_is_refused_with_the_field_named(client, initial_token, change, error, words):
    response = _register(client, initial_token, {**GOOD, **change})
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == error and words in body["error_description"]


# What Apache's mod_auth_openidc sends: every flow, the implicit and hybrid ones too.
EVERY_FLOW = {
    "grant_types": ["authorization_code", "implicit", "refresh_token"],
    "response_types": [
        "code",
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ],
}


def test_unsupported_flows_are_left_out_and_the_response_names_what_was_registered(
    client, initial_token
):
    response = _register(client, initial_token, {**GOOD, **EVERY_FLOW})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    assert model.grant_types == ["authorization_code", "refresh_token"]
    assert model.response_types == ["code"]

    uri = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    changed = client.put(
        uri,
        headers=auth,
        json={**GOOD, **EVERY_FLOW, "client_id": body["client_id"], "grant_types": ["implicit"]},
    )
    assert changed.status_code == 400 and "grant_types" in changed.get_json()["error_description"]
    changed = client.put(
        uri, headers=auth, json={**GOOD, **EVERY_FLOW, "client_id": body["client_id"]}
    )
    assert changed.status_code == 200 and changed.get_json()["response_types"] == ["code"]


def test_the_initial_access_token_is_required_counted_and_expires(client, make, initial_token):
    assert _register(client, "", GOOD).status_code == 401
    wrong = _register(client, "not-a-token", GOOD)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert _register(client, initial_token, GOOD).status_code == 201
    assert _register(client, initial_token, GOOD).status_code == 201
    used_up = _register(client, initial_token, GOOD)
    assert used_up.status_code == 401 and "used up" in used_up.get_json()["error_description"]
    form = client.post(
        "/register", data={"client_name": "x"}, headers={"Authorization": f"Bearer {initial_token}"}
    )
    assert form.status_code in (400, 401)


def test_an_expired_initial_token_is_refused(client, initial_token):
    clock.advance(3601)
    assert _register(client, initial_token, GOOD).status_code == 401


def test_read_update_and_delete_with_the_registration_access_token(client, initial_token):
    body = _register(client, initial_token, GOOD).get_json()
    uri = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}

    read = client.get(uri, headers=auth).get_json()
    assert read["client_id"] == body["client_id"] and "client_secret" not in read
    # RFC 7592 §3: REQUIRED in every client information response (the token is not rotated).
    assert read["registration_access_token"] == body["registration_access_token"]
    assert read["registration_client_uri"] == body["registration_client_uri"]
    assert client.get(uri, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/register/someone-else", headers=auth).status_code == 401

    changed = client.put(
        uri,
        headers=auth,
        json={
            **GOOD,
            "client_id": body["client_id"],
            "redirect_uris": ["https://new.example.org/cb"],
        },
    )
    assert changed.status_code == 200
    assert changed.get_json()["redirect_uris"] == ["https://new.example.org/cb"]
    assert changed.get_json()["registration_access_token"] == body["registration_access_token"]
    assert changed.get_json()["registration_client_uri"] == body["registration_client_uri"]
    public = client.put(
        uri,
        headers=auth,
        json={**GOOD, "client_id": body["client_id"], "token_endpoint_auth_method": "none"},
    )
    assert public.status_code == 400

    assert client.delete(uri, headers=auth).status_code == 204
    assert client.get(uri, headers=auth).status_code == 401


def _without_es256_keys(app) -> None:
    """No ES256 signing key, whatever other tests left in the (shared) keys table."""
    from sqlalchemy import delete

    from idp.models import SigningKey

    db.session.execute(delete(SigningKey).where(SigningKey.alg == "ES256"))
    db.session.commit()
    app.extensions["idp.keyring"].invalidate()


def test_an_id_token_algorithm_needs_a_signing_key(app, client, initial_token, teacher):
    _without_es256_keys(app)
    es256 = {**GOOD, "id_token_signed_response_alg": "ES256"}
    refused = _register(client, initial_token, es256)
    assert refused.status_code == 400, refused.get_json()
    assert refused.get_json()["error"] == "invalid_client_metadata"
    assert "id_token_signed_response_alg" in refused.get_json()["error_description"]
    body = _register(client, initial_token, GOOD).get_json()
    uri = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    update = client.put(uri, headers=auth, json={**es256, "client_id": body["client_id"]})
    assert update.status_code == 400

    app.extensions["idp.keyring"].rotate("ES256")
    update = client.put(uri, headers=auth, json={**es256, "client_id": body["client_id"]})
    assert update.status_code == 200
    assert update.get_json()["id_token_signed_response_alg"] == "ES256"
