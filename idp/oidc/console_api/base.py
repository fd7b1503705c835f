"""The console API's blueprint and what its routes share: the caller, the answers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from idp.oidc.api import Refused
from idp.oidc.api import caller as api_caller
from idp.oidc.tokens import TokenMatch

bp = Blueprint("console_api", __name__, url_prefix="/api/console")

SCOPE = "console.read"
MAX_LIMIT = 100


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    return exc.response


def caller() -> TokenMatch:
    """The request's live access token with ``console.read``; else the RFC 6750 answer."""
    return api_caller(SCOPE)


def answer(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def invalid(description: str) -> Response:
    return answer({"error": "invalid_request", "error_description": description}, 400)


def not_found(description: str = "Not found.") -> Response:
    return answer({"error": "not_found", "error_description": description}, 404)
