"""A client's initiate login URI (OpenID Connect Core 1.0 §4, Dynamic Client Registration 1.0
§2): registered dynamically, with the CLI or on the operators' pages, and checked the same way
everywhere: https (http on loopback only), no fragment, on the origin of a redirect URI."""

from __future__ import annotations

import json

import pytest

from idp.domain import registration
from idp.extensions import db
from idp.models import Client
from tests.journeys import location, page_text, submit

REDIRECT = "https://planner.example.org/callback"
BODY = {
    "client_name": "Revision Planner",
    "redirect_uris": [REDIRECT],
    "initiate_login_uri": "https://planner.example.org/initiate-login",
}

# What an attacker might register, and why each is refused.
REFUSED = [
    ("javascript:alert(1)", "must use https"),
    ("data:text/html,<script>alert(1)</script>", "must use https"),
    ("https://evil.example.net/initiate-login", "same origin"),
    ("https://planner.example.org.evil.example.net/initiate", "same origin"),
    ("https://planner.example.org@evil.example.net/initiate", "same origin"),
    ("https://planner.example.org:8443/initiate-login", "same origin"),
    ("http://planner.example.org/initiate-login", "must use https"),
    ("https://planner.example.org/initiate-login#here", "fragment"),
    ("/initiate-login", "must use https"),
]


@pytest.fixture
def initial_token(app, make):
    token, _ = registration.issue_initial_token(
        ttl_seconds=3600, service_keys=["submit_for_assessment"], uses=5, catalogue=make.catalogue
    )
    db.session.commit()
    return token


def _register(client, token: str, body: dict):
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_registered_initiate_login_uri_is_kept_and_returned(client, initial_token):
    response = _register(client, initial_token, BODY)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["initiate_login_uri"] == BODY["initiate_login_uri"]
    read = client.get(
        f"/register/{body['client_id']}",
        headers={"Authorization": f"Bearer {body['registration_access_token']}"},
    )
    assert read.get_json()["initiate_login_uri"] == BODY["initiate_login_uri"]
    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    assert model.initiate_login_uri == BODY["initiate_login_uri"]


def test_without_one_the_response_names_none(client, initial_token):
    body = _register(client, initial_token, {**BODY, "initiate_login_uri": None}).get_json()
    assert "initiate_login_uri" not in body


@pytest.mark.parametrize(("uri", "message"), REFUSED)
def test_registration_refuses_an_unsafe_initiate_login_uri(client, initial_token, uri, message):
    response = _register(client, initial_token, {**BODY, "initiate_login_uri": uri})
    assert response.status_code == 400
    error = response.get_json()
    assert error["error"] == "invalid_client_metadata" and message in error["error_description"]
    assert db.session.scalar(db.select(Client).where(Client.name == "Revision Planner")) is None


def test_http_is_allowed_on_loopback_like_a_redirect_uri(client, initial_token):
    body = {
        "client_name": "Local service",
        "redirect_uris": ["http://127.0.0.1:5999/callback"],
        "initiate_login_uri": "http://127.0.0.1:5999/initiate-login",
    }
    assert _register(client, initial_token, body).status_code == 201


def test_an_update_checks_it_against_the_new_redirect_uris(client, initial_token):
    body = _register(client, initial_token, BODY).get_json()
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    moved = {
        "client_id": body["client_id"],
        "client_name": "Revision Planner",
        "redirect_uris": ["https://elsewhere.example.org/callback"],
        "initiate_login_uri": BODY["initiate_login_uri"],
    }
    response = client.put(f"/register/{body['client_id']}", json=moved, headers=headers)
    assert response.status_code == 400 and "same origin" in response.get_json()["error_description"]
    dropped = {**moved, "redirect_uris": [REDIRECT], "initiate_login_uri": None}
    response = client.put(f"/register/{body['client_id']}", json=dropped, headers=headers)
    assert response.status_code == 200 and "initiate_login_uri" not in response.get_json()


def test_a_non_string_is_refused(client, initial_token):
    response = _register(client, initial_token, {**BODY, "initiate_login_uri": ["https://x"]})
    assert response.status_code == 400


# -- the CLI --------------------------------------------------------------------------------------


def test_the_cli_registers_sets_and_clears_it(run):
    result = run(
        "clients", "create", "--name", "Planner", "--redirect-uri", REDIRECT,
        "--initiate-login-uri", "https://evil.example.net/initiate-login",
    )  # fmt: skip
    assert result.exit_code != 0 and "same origin" in result.output
    result = run(
        "clients", "create", "--name", "Planner", "--redirect-uri", REDIRECT,
        "--initiate-login-uri", BODY["initiate_login_uri"], "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["initiate_login_uri"] == BODY["initiate_login_uri"]
    client_id = created["client_id"]
    result = run("clients", "initiate-login", client_id, "--uri", "javascript:alert(1)")
    assert result.exit_code != 0 and "https" in result.output
    result = run(
        "clients", "initiate-login", client_id, "--uri", "https://planner.example.org/go", "--json"
    )
    assert json.loads(result.output)["initiate_login_uri"] == "https://planner.example.org/go"
    result = run("clients", "initiate-login", client_id, "--json")
    assert json.loads(result.output)["initiate_login_uri"] is None
    shown = json.loads(run("clients", "show", client_id, "--json").output)
    assert shown["initiate_login_uri"] is None


# -- the operators' pages -------------------------------------------------------------------------


def test_an_operator_registers_and_changes_it(operator, make):
    response = submit(
        operator,
        "/operator/clients/new",
        {
            "name": "Results Analysis",
            "redirect_uris": "https://results.example.org/callback",
            "initiate_login_uri": "https://evil.example.net/initiate-login",
        },
    )
    assert "same origin" in page_text(response)
    assert db.session.scalar(db.select(Client).where(Client.name == "Results Analysis")) is None
    submit(
        operator,
        "/operator/clients/new",
        {
            "name": "Results Analysis",
            "redirect_uris": "https://results.example.org/callback",
            "initiate_login_uri": "https://results.example.org/initiate-login",
        },
    )
    model = db.session.scalar(db.select(Client).where(Client.name == "Results Analysis"))
    assert model.initiate_login_uri == "https://results.example.org/initiate-login"
    view = f"/operator/clients/{model.client_id}"
    assert "https://results.example.org/initiate-login" in page_text(operator.get(view))
    response = submit(
        operator,
        view,
        {
            "redirect_uris": "https://results.example.org/callback",
            "initiate_login_uri": "https://results.example.org/initiate#x",
        },
    )
    assert "must not contain a fragment" in page_text(response)
    db.session.refresh(model)
    assert model.initiate_login_uri == "https://results.example.org/initiate-login"
    response = submit(operator, view, {"redirect_uris": "https://results.example.org/callback"})
    assert location(response) == view
    db.session.refresh(model)
    assert model.initiate_login_uri is None


def test_the_operators_form_needs_its_csrf_token(operator, make):
    registered = make.client(initiate_login_uri=None)
    view = f"/operator/clients/{registered.client_id}"
    response = operator.post(
        view,
        data={
            "redirect_uris": registered.redirect_uri,
            "initiate_login_uri": registered.redirect_uri.replace("/callback", "/go"),
        },
    )
    assert response.status_code == 400
    db.session.refresh(registered.model)
    assert registered.model.initiate_login_uri is None
