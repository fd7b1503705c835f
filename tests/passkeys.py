"""Passkey ceremonies through the pages, as a browser's script drives them: options asked for
with the page's CSRF token in a header, the answer sent as a form."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.oidc_helpers import csrf_token
from tests.passkey_authenticator import Authenticator


def options(client: FlaskClient, url: str, page: str, **form: str):
    """What the page's script does first: POST for the ceremony's options, with the CSRF
    token of the page in a header."""
    token = csrf_token(client.get(page))
    return client.post(url, data=form, headers={"X-CSRFToken": token})


def answer(client: FlaskClient, url: str, page: str, credential: str, **form: str):
    """...then the browser's answer, sent in the page's form."""
    token = csrf_token(client.get(page))
    return client.post(url, data={"csrf_token": token, "credential": credential, **form})


def add_passkey(
    client: FlaskClient,
    authenticator: Authenticator,
    name: str = "My phone",
    page: str = "/account/security",
    **form: str,
):
    asked = options(client, "/account/security/passkeys/options", page, name=name)
    assert asked.status_code == 200, asked.get_data(as_text=True)
    return answer(
        client,
        "/account/security/passkeys",
        page,
        authenticator.create(asked.get_data(as_text=True)),
        name=name,
        **form,
    )


def passkey_sign_in(client: FlaskClient, authenticator: Authenticator, **form: str):
    asked = options(client, "/login/passkey/options", "/login")
    assert asked.status_code == 200
    return answer(
        client, "/login/passkey", "/login", authenticator.get(asked.get_data(as_text=True)), **form
    )


def confirm_for_console(client: FlaskClient, authenticator: Authenticator):
    """A staff member signed in without a passkey proves themselves with it for the console."""
    asked = options(client, "/console/confirm/options", "/console/confirm")
    assert asked.status_code == 200, asked.get_data(as_text=True)
    return answer(
        client,
        "/console/confirm",
        "/console/confirm",
        authenticator.get(asked.get_data(as_text=True)),
    )


def ready_for_console(client: FlaskClient, address: str) -> Authenticator:
    """Sign a member of staff in as the console needs: their password, then the passkey their
    role requires (added on the page that asks for it), then confirming with it."""
    from tests.journeys import location, sign_in

    assert location(sign_in(client, address)) == "/"
    authenticator = Authenticator()
    added = add_passkey(client, authenticator, page="/account/passkey-required")
    assert added.status_code == 200, added.get_data(as_text=True)[:500]
    assert location(confirm_for_console(client, authenticator)) == "/console/"
    return authenticator
