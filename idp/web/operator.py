"""The operators' pages: the relying parties (clients) registered with the provider.

Only staff with the operator role (``idp staff grant EMAIL --role operator``), signed in with a
passkey, see them (the console's gate); for everyone else they do not exist (404). Everything
here can also be done with ``idp clients``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from idp.domain import clients
from idp.errors import DomainError, NotFound
from idp.languages import say
from idp.models import Client
from idp.web.console.blueprint import add_section, gate
from idp.web.transaction import transaction

bp = Blueprint("operator", __name__, url_prefix="/operator")


add_section("operator.client_list", _l("Clients"), "clients", operators_only=True)


@bp.before_request
@login_required
def _operators_only() -> Any:
    return gate(operators_only=True)


def _lines(name: str) -> list[str]:
    return [line.strip() for line in (request.form.get(name) or "").splitlines() if line.strip()]


def _client(client_id: str) -> Client:
    try:
        return clients.get(client_id)
    except NotFound:
        abort(404)


@bp.get("/clients")
def client_list() -> Any:
    return render_template("operator/clients.html", clients=clients.all_clients())


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client() -> Any:
    catalogue = current_app.extensions["idp.settings"].catalogue
    error = error_field = None
    if request.method == "POST":
        with transaction(DomainError) as tx:
            client, secret = clients.create(
                name=request.form.get("name", ""),
                redirect_uris=_lines("redirect_uris"),
                post_logout_redirect_uris=_lines("post_logout_redirect_uris"),
                public=request.form.get("public") == "yes",
                service_keys=request.form.getlist("services"),
                catalogue=catalogue,
                first_party=request.form.get("third_party") != "yes",
                backchannel_logout_uri=request.form.get("backchannel_logout_uri") or None,
                api_scopes=request.form.getlist("api_scopes"),
                user_data_uri=request.form.get("user_data_uri", "").strip() or None,
                initiate_login_uri=request.form.get("initiate_login_uri", "").strip() or None,
                id_token_alg=request.form.get("id_token_alg") or None,
                signing_algorithms=_signing_algorithms(),
            )
        if tx.error is None:
            return render_template("operator/secret.html", client=client, secret=secret)
        error, error_field = say(tx.error), getattr(tx.error, "field", None)
    return render_template(
        "operator/new_client.html",
        error=error,
        error_field=error_field,
        services=catalogue.services,
        form=request.form,
        api_scopes=clients.API_SCOPES,
        algorithms=clients.ID_TOKEN_ALGORITHMS,
        default_alg=current_app.extensions["idp.settings"].oidc.signing_alg,
    )


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
def client_view(client_id: str) -> Any:
    client = _client(client_id)
    error = error_field = None
    if request.method == "POST":
        with transaction(DomainError) as tx:
            clients.update_uris(
                client,
                _lines("redirect_uris"),
                _lines("post_logout_redirect_uris"),
                initiate_login_uri=request.form.get("initiate_login_uri", "").strip() or None,
            )
        if tx.error is not None:
            error, error_field = say(tx.error), getattr(tx.error, "field", None)
        else:
            flash(_("The URIs have been saved."), "success")
            return redirect(url_for("operator.client_view", client_id=client.client_id))
    return _client_page(client, error, error_field)


def _client_page(client: Client, error: str | None, error_field: str | None = None) -> Any:
    return render_template(
        "operator/client.html",
        client=client,
        error=error,
        error_field=error_field,
        api_scopes=clients.API_SCOPES,
        granted_api=clients.api_scopes_of(client.scope),
        algorithms=clients.ID_TOKEN_ALGORITHMS,
        default_alg=current_app.extensions["idp.settings"].oidc.signing_alg,
        id_token_alg=clients.id_token_alg(client),
    )


def _signing_algorithms() -> list[str]:
    return list(current_app.extensions["idp.keyring"].signing_algorithms())


@bp.post("/clients/<client_id>/id-token-alg")
def id_token_alg(client_id: str) -> Any:
    client = _client(client_id)
    with transaction(DomainError) as tx:
        clients.set_id_token_alg(
            client, request.form.get("id_token_alg") or None, _signing_algorithms()
        )
    if tx.error is not None:
        return _client_page(client, say(tx.error), "id_token_alg")
    flash(_("The ID token signature has been saved."), "success")
    return redirect(url_for("operator.client_view", client_id=client.client_id))


@bp.post("/clients/<client_id>/api")
def api_access(client_id: str) -> Any:
    client = _client(client_id)
    with transaction(DomainError) as tx:
        if not client.is_public:
            clients.set_api_access(client, request.form.getlist("api_scopes"))
        clients.set_user_data_uri(client, request.form.get("user_data_uri", "").strip() or None)
    if tx.error is not None:
        return _client_page(client, say(tx.error), "user_data_uri")
    flash(_("API access and the user data URI have been saved."), "success")
    return redirect(url_for("operator.client_view", client_id=client.client_id))


@bp.post("/clients/<client_id>/secret")
def rotate_secret(client_id: str) -> Any:
    client = _client(client_id)
    with transaction(DomainError) as tx:
        secret = clients.rotate_secret(client)
    if tx.error is not None:
        flash(say(tx.error), "warning")
        return redirect(url_for("operator.client_view", client_id=client_id))
    return render_template("operator/secret.html", client=client, secret=secret, rotated=True)


@bp.post("/clients/<client_id>/<any(disable, enable):action>")
def toggle(client_id: str, action: str) -> Any:
    client = _client(client_id)
    with transaction():
        clients.set_disabled(client, action == "disable")
    if action == "disable":
        flash(_("%(client)s has been disabled.", client=client.name), "success")
    else:
        flash(_("%(client)s has been enabled.", client=client.name), "success")
    return redirect(url_for("operator.client_view", client_id=client_id))
