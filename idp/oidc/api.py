"""The provider's API for services calling as themselves (client_credentials tokens).

``GET /api/organisations/<code>`` (scope ``organisations.read``) and
``GET /api/organisations/<code>/users`` (scope ``users.read``). A client sees only the
organisations of the brands its services belong to, only the people there who hold a role for
its services, and only those roles: what its ID tokens would tell it, never more. Any other
organisation is a 404, so the API says nothing about which centre numbers exist.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from idp.catalogue import Catalogue
from idp.domain import member_list, organisations
from idp.errors import NotFound
from idp.models import Organisation
from idp.oidc.server import oauth_server
from idp.oidc.store import client as find_client
from idp.oidc.tokens import TokenMatch

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PER_PAGE = 100


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found() -> Response:
    return _answer({"error": "not_found", "error_description": "No such organisation."}, 404)


class Refused(Exception):
    def __init__(self, response: Response):
        self.response = response


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    return exc.response


def caller(scope: str) -> TokenMatch:
    """The live access token of the request, with ``scope``; else the 401 or 403 answer of
    RFC 6750 §3, with its ``WWW-Authenticate`` challenge."""
    try:
        match: TokenMatch = oauth_server().resource_protector.acquire_token([scope])
    except OAuth2Error as error:
        response = _answer(dict(error.get_body()), error.status_code)
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        raise Refused(response) from None
    return match


def _visible(code: str, service_keys: frozenset[str], catalogue: Catalogue) -> Organisation:
    """The organisation, if it is of a brand of the client's services."""
    org = organisations.get_by_code(code)
    brands = {
        catalogue.services_by_key[k].brand for k in service_keys if k in catalogue.services_by_key
    }
    if org.brand not in brands:
        raise NotFound("No such organisation.")
    return org


def _describe(org: Organisation) -> dict[str, Any]:
    return {"code": org.code, "name": org.name, "brand": org.brand}


@bp.get("/organisations/<code>")
def organisation(code: str) -> Response:
    match = caller("organisations.read")
    client = find_client(match.row.client_id)
    catalogue = current_app.extensions["idp.settings"].catalogue
    try:
        org = _visible(code, client.service_keys if client else frozenset(), catalogue)
    except NotFound:
        return _not_found()
    return _answer(
        {
            **_describe(org),
            "associate_of": org.parent.code if org.parent else None,
            "associates": sorted(a.code for a in org.associates),
        }
    )


@bp.get("/organisations/<code>/users")
def organisation_users(code: str) -> Response:
    match = caller("users.read")
    client = find_client(match.row.client_id)
    catalogue = current_app.extensions["idp.settings"].catalogue
    services = client.service_keys if client else frozenset()
    try:
        org = _visible(code, services, catalogue)
    except NotFound:
        return _not_found()
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "50"))
    except ValueError:
        page = per_page = 0
    if not 1 <= page <= 100_000 or not 1 <= per_page <= MAX_PER_PAGE:
        return _answer(
            {
                "error": "invalid_request",
                "error_description": f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE}.",
            },
            400,
        )
    visible = catalogue.roles_for_services(services)
    role = request.args.get("role", "")
    if role and role not in visible:
        return _answer(
            {"error": "invalid_request", "error_description": f"Unknown role {role!r}."}, 400
        )
    status = request.args.get("status", "")
    if status and status not in member_list.STATUSES:
        return _answer(
            {"error": "invalid_request", "error_description": f"Unknown status {status!r}."}, 400
        )
    listed = member_list.list_members(
        org,
        member_list.ListQuery(
            status=status,
            role=role,
            any_role=tuple(sorted(visible)),
            page=page,
            per_page=per_page,
        ),
    )
    body: dict[str, Any] = {
        "organisation": _describe(org),
        "users": [
            {
                "sub": row.sub,
                "name": row.name,
                "email": row.email,
                "status": row.status,
                "roles": [r for r in row.roles if r in visible],
            }
            for row in listed.rows
        ],
        "page": listed.query.page,
        "per_page": per_page,
        "total": listed.total,
    }
    if page < listed.pages:
        issuer = current_app.extensions["idp.settings"].oidc.issuer
        query: dict[str, Any] = {"page": page + 1, "per_page": per_page}
        query.update({k: v for k, v in (("role", role), ("status", status)) if v})
        body["next"] = issuer + url_for("api.organisation_users", code=org.code, **query)
    return _answer(body)
