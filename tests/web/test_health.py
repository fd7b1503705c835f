"""/healthz and /readyz, and what people and clients see while the database is unreachable."""

from __future__ import annotations

import base64

from sqlalchemy.exc import OperationalError

from idp.domain import sessions
from tests.journeys import location, sign_in
from tests.mailbox import free_port
from tests.oidc_helpers import csrf_token


def test_healthz_and_readyz_when_all_is_well(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok", "signing_key": "ok"}
    assert ready.headers["Cache-Control"] == "no-store"


def test_an_unreachable_database_is_a_fast_503_with_retry_after(make_app, overrides):
    overrides["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    app = make_app(overrides)
    browser = app.test_client()
    assert browser.get("/healthz").status_code == 200  # the process is up
    ready = browser.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
    assert ready.get_json()["database"] == "unreachable"

    page = browser.get("/login")
    response = browser.post(
        "/login",
        data={"csrf_token": csrf_token(page), "email": "jane@example.org", "password": "x"},
    )
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "cannot reach its database" in response.get_data(as_text=True)
    token = browser.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": "Basic " + base64.b64encode(b"some-client:secret").decode()},
    )
    assert token.status_code == 503
    assert token.get_json()["error"] == "temporarily_unavailable"


def test_a_signed_in_person_also_gets_the_503_page_while_the_database_is_unreachable(
    client, make, monkeypatch
):
    make.user("jane@example.org")
    assert location(sign_in(client, "jane@example.org")) == "/"

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(sessions, "load", unreachable)
    response = client.get("/")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "cannot reach its database" in response.get_data(as_text=True)
