"""The registration endpoints: ``POST /register`` (RFC 7591) with an initial access token, and
``GET``/``PUT``/``DELETE /register/<client_id>`` (RFC 7592) with the registration access token
returned at registration. JSON in and out; errors as RFC 7591 §3.2.2 describes them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from idp import languages
from idp.domain import clients, registration
from idp.domain.registration import RegistrationError
from idp.errors import InvalidInput
from idp.extensions import csrf, db

bp = Blueprint("registration", __name__)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _answer(body: dict[str, Any] | None, status: int) -> Response:
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _error(exc: RegistrationError) -> Response:
    db.session.rollback()
    status = 401 if exc.error == "invalid_token" else 400
    response = _answer({"error": exc.error, "error_description": str(exc)}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    return response


def _body() -> Any:
    if not request.is_json:
        raise RegistrationError("invalid_client_metadata", "Send the metadata as JSON.")
    return request.get_json(silent=True)


def _client_uri(client_id: str) -> str:
    issuer = current_app.extensions["idp.settings"].oidc.issuer
    return issuer + url_for("registration.manage", client_id=client_id)


def _signing_algorithms() -> list[str]:
    """What ``id_token_signed_response_alg`` may name: the algorithms the keyring signs with."""
    return current_app.extensions["idp.keyring"].signing_algorithms()


def _allows_private() -> bool:
    """Whether registered clients may name internal addresses for the URLs the provider
    requests (a development deployment's choice; see ``idp.outbound``)."""
    return bool(current_app.extensions["idp.settings"].oidc.registration_allows_private_addresses)


@bp.post("/register")
@csrf.exempt
@languages.in_english
def register() -> Response:
    catalogue = current_app.extensions["idp.settings"].catalogue
    try:
        token = registration.use_initial_token(_bearer())
        meta = registration.check_metadata(
            _body(), _signing_algorithms(), catalogue, allow_private=_allows_private()
        )
        client, secret, access = registration.register(meta, token.service_keys, catalogue)
    except RegistrationError as exc:
        return _error(exc)
    except InvalidInput as exc:
        return _error(RegistrationError("invalid_client_metadata", exc.text))
    db.session.commit()
    body = registration.describe(
        client, secret=secret, access=access, client_uri=_client_uri(client.client_id)
    )
    return _answer(body, 201)


@bp.route("/register/<client_id>", methods=["GET", "PUT", "DELETE"])
@csrf.exempt
@languages.in_english
def manage(client_id: str) -> Response:
    try:
        client = registration.registered_client(client_id, _bearer())
        if request.method == "DELETE":
            clients.delete(client)
            db.session.commit()
            return _answer(None, 204)
        if request.method == "PUT":
            registration.update_registration(
                client,
                _body(),
                _signing_algorithms(),
                current_app.extensions["idp.settings"].catalogue,
                allow_private=_allows_private(),
            )
            db.session.commit()
    except RegistrationError as exc:
        return _error(exc)
    except InvalidInput as exc:
        return _error(RegistrationError("invalid_client_metadata", exc.text))
    # RFC 7592 §3: the response carries the registration access token. The one presented stays
    # valid (no rotation), so a client that lost this response has lost nothing.
    body = registration.describe(client, access=_bearer(), client_uri=_client_uri(client.client_id))
    return _answer(body, 200)
