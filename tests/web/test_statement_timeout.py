"""A statement that runs too long on PostgreSQL: the database cancels it after
``database.statement_timeout`` and the person gets a 503 "took too long" page (a relying
party, ``temporarily_unavailable``) with Retry-After, logged with the request's id; the app
carries on. The statements are made slow as they are in life: they wait for a lock that
another connection holds."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest

from idp import logs
from tests.conftest import PG_URL
from tests.journeys import location, page_text, sign_in
from tests.locks import locked
from tests.oidc_helpers import csrf_token

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="statement_timeout is PostgreSQL's; SQLite has no such limit"
)

LIMIT = 1  # second
SPANISH = (
    "Esta página tardó demasiado",
    "Si estaba buscando, pruebe con una búsqueda más concreta.",
)


def limited_app(make_app, overrides):
    overrides["DATABASE"] = {"STATEMENT_TIMEOUT": LIMIT}
    return make_app(overrides)


def post_login(browser, email: str, language: str = "en"):
    page = browser.get("/login")
    return browser.post(
        "/login",
        data={"csrf_token": csrf_token(page), "email": email, "password": "not this one"},
        headers={"Accept-Language": language},
    )


def test_a_slow_statement_is_a_503_page_in_the_persons_language(make, make_app, overrides):
    make.user("jane@example.org")
    browser = limited_app(make_app, overrides).test_client()

    with locked("email_addresses"):
        response = post_login(browser, "jane@example.org")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    page = page_text(response)
    assert "This page took too long" in page and "try a narrower search" in page
    assert "cannot reach its database" not in page  # not the page for a database that is down

    with locked("email_addresses"):
        response = post_login(browser, "jane@example.org", language="es")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    page = page_text(response)
    assert all(words in page for words in SPANISH), page

    # The app carries on: the same app, and its pooled connections, sign Jane in.
    assert location(sign_in(browser, "jane@example.org")) == "/"


def test_the_cancelled_statement_is_logged_with_the_request_id(make, make_app, overrides):
    make.user("jane@example.org")
    browser = limited_app(make_app, overrides).test_client()
    stream = io.StringIO()
    handler = logs.json_handler(stream)
    logger = logging.getLogger("idp")
    logger.addHandler(handler)
    try:
        with locked("email_addresses"):
            response = post_login(browser, "jane@example.org")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 503
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if "statement_timeout" in line["message"]]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["level"] == "error" and "POST /login" in line["message"]
    assert "canceling statement due to statement timeout" in line["message"]
    assert "email_addresses" in line["message"]  # the statement, to find what needs an index
    assert "jane@example.org" not in line["message"]  # its values are not


def test_the_token_endpoint_answers_temporarily_unavailable(make, make_app, overrides):
    registered = make.client(api_scopes=("organisations.read",))
    browser = limited_app(make_app, overrides).test_client()
    basic = base64.b64encode(f"{registered.client_id}:{registered.secret}".encode()).decode()

    def ask_for_a_token():
        return browser.post(
            "/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )

    with locked("clients"):
        refused = ask_for_a_token()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.get_json() == {
        "error": "temporarily_unavailable",
        "error_description": "This page took too long",
    }
    assert ask_for_a_token().status_code == 200
