"""A home page tile's way into a service: ``/launch/<service>`` signs the person straight in
(OpenID Connect Core 1.0 §4, *Initiating Login from a Third Party*).

A person holding a role for the service at the organisation they act for is sent, with a 303,
to the initiate login URI of the client serving it (``idp.domain.clients.launcher``) with
``iss``, ``login_hint`` and ``target_link_uri``; the service starts a sign-in that this
browser's session answers at once, so the person lands in the service signed in. With no such
client the tile opens the service's page, as a plain link would. Anyone else gets a page saying
why, never a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, redirect
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp.catalogue import Catalogue
from idp.domain import acting, clients, consents
from idp.models import Client
from idp.web.errors import render_error
from idp.web.home import locked_reason

bp = Blueprint("launch", __name__)


def _catalogue() -> Catalogue:
    return current_app.extensions["idp.settings"].catalogue


def initiate_login_location(client: Client, params: dict[str, str]) -> str:
    """The client's initiate login URI with ``params`` added to any query it already has."""
    assert client.initiate_login_uri is not None
    parts = urlsplit(client.initiate_login_uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _login_hint(client: Client) -> str | None:
    """The person's address, for a service that may know it: a first-party one, or one the
    person let have their email address. A third-party service they never consented to learns
    nothing before they do."""
    if client.first_party or consents.allows(current_user, client.client_id, "email"):
        return current_user.email
    return None


@bp.get("/launch/<service>", endpoint="open")
@login_required
def open_service(service: str) -> Any:
    catalogue = _catalogue()
    wanted = catalogue.services_by_key.get(service)
    if wanted is None or not wanted.url:
        abort(404)
    org = acting.current(current_user, current_user.auth_session, catalogue)
    if org is None and len(acting.choices(current_user, catalogue)) > 1:
        return render_error(
            403,
            _("Choose an organisation first"),
            _("Choose the organisation you are acting for on the home page, then try again."),
        )
    if org is not None and wanted.brand != org.brand:
        abort(404)  # another board's service: no one at this centre can be given it
    membership = acting.membership(current_user, org)
    held = membership.held_role_keys if membership else set()
    if not any(r.service == wanted.key for r in catalogue.roles if r.key in held):
        return render_error(
            403,
            _("You cannot use %(service)s", service=wanted.name),
            locked_reason(wanted, current_user, org, catalogue),
        )
    client = clients.launcher(wanted.key, wanted.url)
    if client is None:
        response = redirect(wanted.url, 303)
    else:
        params = {"iss": current_app.extensions["idp.settings"].oidc.issuer}
        hint = _login_hint(client)
        if hint:
            params["login_hint"] = hint
        params["target_link_uri"] = wanted.url
        response = redirect(initiate_login_location(client, params), 303)
    response.headers["Cache-Control"] = "no-store"
    return response
