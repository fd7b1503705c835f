"""The protocol's routes: thin views over ``authorize``, Authlib's endpoints and the keyring."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.datastructures import MultiDict
from wtforms import ValidationError

from idp import clock, languages, throttle
from idp.domain import acting, sessions
from idp.domain import tokens as token_rules
from idp.errors import NotFound
from idp.extensions import csrf, db
from idp.models import AuthSession, Consent
from idp.oidc import authorize as authz_module
from idp.oidc import chooser, frontchannel, interactions
from idp.oidc.authorize import Authorization, AuthorizeError
from idp.oidc.grants import ReplayDetected
from idp.oidc.interactions import ParkedRequest
from idp.oidc.metadata import discovery_document
from idp.oidc.server import oauth_server
from idp.page_policy import allow_form_target
from idp.security import content_security_policy

bp = Blueprint("oidc", __name__)

JSON = "application/json"
PUBLIC_CACHE = "public, max-age=300"


def current_auth_session() -> AuthSession | None:
    if current_user.is_authenticated:
        return current_user.auth_session
    return None


# -- discovery and keys ---------------------------------------------------------------


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """Built once per keyring version: it lists the algorithms the keyring signs with."""
    server = oauth_server()
    kept = current_app.extensions.get("idp.discovery")
    if kept is None or kept[0] is None or kept[0] != server.keyring.version():
        body = json.dumps(discovery_document(server), separators=(",", ":")).encode()
        kept = current_app.extensions["idp.discovery"] = (server.keyring.version(), body)
    return Response(
        kept[1],
        mimetype=JSON,
        headers={"Cache-Control": PUBLIC_CACHE, "Access-Control-Allow-Origin": "*"},
    )


@bp.get("/jwks.json")
def jwks() -> Response:
    return Response(
        oauth_server().keyring.jwks_json(),
        mimetype="application/jwk-set+json",
        headers={"Cache-Control": PUBLIC_CACHE, "Access-Control-Allow-Origin": "*"},
    )


# -- authorization --------------------------------------------------------------------


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt
def authorize() -> Any:
    params = request.args if request.method == "GET" else request.form
    return _authorize(MultiDict(params), None)


@bp.get("/authorize/resume")
def resume() -> Any:
    interaction = interactions.get(request.args.get("ix"))
    if interaction is None:
        return _error_page(
            _("This sign-in request has expired"),
            _("Go back to the service you were using and start again."),
            410,
        )
    # The user has acted (signed in, chosen, consented): issue the code, or ask for the next
    # thing. The sign-in pages hand back here by redirect, as every interaction page does.
    return _authorize(interactions.params(interaction), interaction)


def _authorize(params: MultiDict[str, str], interaction: ParkedRequest | None) -> Any:
    server = oauth_server()
    authz: Authorization | None = None
    try:
        authz = authz_module.validate(params, server)
        decision = authz_module.decide(authz, server, current_auth_session(), interaction)
    except AuthorizeError as error:
        db.session.rollback()
        authz = authz or error.authorization
        if not error.redirect or authz is None:
            return _error_page(
                _("This sign-in link is not valid"),
                _(
                    "The service that sent you here made a request we cannot accept."
                    " Go back to it and try again."
                ),
                400,
                detail=f"{error.error}: {error.description}",
            )
        if interaction is not None:
            interactions.finish(interaction)
            db.session.commit()
        return _no_referrer(redirect(authz_module.error_location(authz, error, server)))
    if decision.interaction is not None:
        if interaction is None:
            interaction = interactions.start(params, server.settings.auth.interaction_ttl)
        db.session.commit()
        if decision.interaction == "login" and request.endpoint == "oidc.authorize":
            return interactions.login_page(interaction, interactions.login_hint(interaction), None)
        return redirect(url_for(INTERACTION_PAGES[decision.interaction], ix=interaction.id))
    if interaction is not None:
        interactions.finish(interaction)
    db.session.commit()
    return _no_referrer(decision.response)


INTERACTION_PAGES = {
    "login": "auth.login",
    "organisation": "oidc.choose_organisation",
    "consent": "oidc.consent",
}


def _interaction_step() -> Any:
    """The interaction of a page of an authorization request (``?ix=``), its sign-in session
    and its request, checked again; or the page to answer with instead (expired, or no longer
    valid: back to the request)."""
    interaction = interactions.get(request.values.get("ix"))
    auth_session = current_auth_session()
    if interaction is None or auth_session is None:
        return _error_page(
            _("This sign-in request has expired"),
            _("Go back to the service you were using and start again."),
            410,
        )
    try:
        authz = authz_module.validate(interactions.params(interaction), oauth_server())
    except AuthorizeError:
        return redirect(url_for("oidc.resume", ix=interaction.id))
    return interaction, auth_session, authz


@bp.route("/authorize/organisation", methods=["GET", "POST"])
def choose_organisation() -> Any:
    """The organisation chooser: the person holds roles for the client's services at several
    organisations (or asked with ``prompt=select_account``). The choice is the session's, as
    with *Change Organisation*; then the request carries on."""
    found = _interaction_step()
    if not isinstance(found, tuple):
        return found
    interaction, auth_session, authz = found
    server = oauth_server()
    user = auth_session.user
    catalogue = server.settings.catalogue
    error = None
    if request.method == "POST":
        if request.form.get("decision") == "cancel":
            denied = AuthorizeError("access_denied", "The user did not choose an organisation.")
            interactions.finish(interaction)
            db.session.commit()
            return _no_referrer(redirect(authz_module.error_location(authz, denied, server)))
        code = request.form.get("organisation", "")
        if not code:
            error = _("Select an organisation.")
        else:
            try:
                acting.choose(user, auth_session, code, catalogue)
            except NotFound:
                db.session.rollback()
                abort(404)
            interactions.mark_organisation_chosen(interaction)
            db.session.commit()
            return redirect(url_for("oidc.resume", ix=interaction.id))
    visible = catalogue.roles_for_services(authz.client.service_keys)
    options = acting.choices(user, catalogue)
    held = {m.organisation_id: m.held_role_keys & visible for m in user.memberships}
    return render_template(
        "oidc/choose_organisation.html",
        client=authz.client,
        interaction=interaction,
        options=options,
        hints={
            o.id: ", ".join(r.name for r in catalogue.roles if r.key in held.get(o.id, set()))
            or _("No role in %(service)s", service=authz.client.name)
            for o in options
        },
        selected=auth_session.organisation_id
        or chooser.org_hint(authz.params.get("org_hint"), user.id, catalogue),
        error=error,
    )


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> Any:
    found = _interaction_step()
    if not isinstance(found, tuple):
        return found
    interaction, auth_session, authz = found
    server = oauth_server()
    if request.method == "POST":
        if request.form.get("decision") != "allow":
            error = AuthorizeError("access_denied", "The user declined.")
            interactions.finish(interaction)
            db.session.commit()
            return _no_referrer(redirect(authz_module.error_location(authz, error, server)))
        _remember_consent(auth_session, authz)
        interactions.mark_consented(interaction)
        db.session.commit()
        return redirect(url_for("oidc.resume", ix=interaction.id))
    return render_template(
        "oidc/consent.html",
        client=authz.client,
        scopes=authz.scopes,
        interaction=interaction,
        # Where the person goes next, which a service cannot dress up as its name can be.
        destination=urlsplit(authz.redirect_uri).hostname or "",
    )


def _remember_consent(auth_session: AuthSession, authz: Authorization) -> None:
    existing = (
        db.session.query(Consent)
        .filter_by(user_id=auth_session.user_id, client_id=authz.client.client_id)
        .one_or_none()
    )
    if existing is None:
        existing = Consent(user_id=auth_session.user_id, client_id=authz.client.client_id, scope="")
        db.session.add(existing)
    existing.scope = " ".join(sorted(set(existing.scope.split()) | set(authz.scopes)))
    existing.granted_at = clock.now()


# -- token, userinfo, revocation, introspection ---------------------------------------


@bp.post("/token")
@csrf.exempt
@throttle.by_client()
def token() -> Response:
    server = oauth_server()
    try:
        return _finish(server.create_token_response())
    except ReplayDetected as replay:
        # A code redeemed twice or a rotated refresh token used again: the refused request is
        # rolled back, then everything issued from that sign-in is revoked.
        db.session.rollback()
        token_rules.revoke_family(replay.family_id)
        db.session.commit()
        return server.error_response(replay)


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Response:
    response = oauth_server().create_endpoint_response("userinfo")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.post("/revoke")
@csrf.exempt
def revoke() -> Response:
    return _finish(oauth_server().create_endpoint_response("revocation"))


@bp.post("/introspect")
@csrf.exempt
def introspect() -> Response:
    return _finish(oauth_server().create_endpoint_response("introspection"))


def _finish(response: Response) -> Response:
    """Commit a granted request; roll a refused one back."""
    if response.status_code == 200:
        db.session.commit()
    else:
        db.session.rollback()
    return response


# -- RP-initiated logout --------------------------------------------------------------


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt
def end_session() -> Any:
    """OpenID Connect RP-Initiated Logout 1.0, and our own pages' sign-out button.

    With a valid ``id_token_hint`` for the signed-in user the session ends at once; otherwise
    the user confirms with a CSRF-protected form first.
    """
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    server = oauth_server()
    logout_request = server.create_oauth2_request(None)
    logout_request.logout_confirmed = confirmed
    try:
        validated = server.validate_endpoint_request("end_session", logout_request)
    except OAuth2Error as error:
        return _error_page(
            _("This sign-out link is not valid"),
            _("You have not been signed out. Use the sign-out button instead."),
            400,
            detail=f"{error.error}: {error.description}",
        )
    auth_session = current_auth_session()
    hint = validated.id_token_claims
    hint_matches = hint is not None and (
        auth_session is None or hint.get("sub") == auth_session.user.sub
    )
    if auth_session is not None and not confirmed and not hint_matches:
        # Confirmed, the post is answered with a redirect to the relying party: to the URI it
        # asked for, when it is one the client registered (otherwise there is none).
        asked = request.values.get("post_logout_redirect_uri", "")
        client = validated.client
        if client is not None and asked in client.post_logout_redirect_uris:
            allow_form_target(asked)
        return render_template(
            "oidc/logout_confirm.html",
            client=validated.client,
            fields=[(k, v) for k, v in request.values.items(multi=True) if k != "csrf_token"],
        )
    frames: list[str] = []
    if auth_session is not None:
        frames = frontchannel.frames_for(auth_session.sid)
        sessions.end(auth_session)
        languages.keep_after_sign_out(auth_session.user)
        logout_user()
        db.session.commit()
    response = server.create_endpoint_response("end_session", validated)
    if response is not None and not frames:
        return _no_referrer(response)
    page = Response(
        render_template(
            "oidc/logged_out.html",
            client=validated.client,
            frames=frames,
            continue_url=response.headers["Location"] if response is not None else None,
            not_sent_back=None if response is not None else _why_not_sent_back(validated),
        ),
        mimetype="text/html",
    )
    if frames:
        page.headers["Content-Security-Policy"] = content_security_policy(frames=frames)
    return _no_referrer(page)


def _why_not_sent_back(validated: Any) -> str | None:
    """Why a sign-out that asked to return to the service did not: ``"unknown_service"`` (no
    client named by ``client_id`` or the ID token hint), ``"unregistered"`` (the address is not
    one the client registered, exactly: a missing trailing slash is enough), or
    ``"unconfirmed"``; None when no return was asked for. The signed-out page says so in words
    and never shows the address, which whoever made the link chose."""
    if not request.values.get("post_logout_redirect_uri"):
        return None
    client = validated.client
    if client is None:
        return "unknown_service"
    if request.values["post_logout_redirect_uri"] not in client.post_logout_redirect_uris:
        return "unregistered"
    return "unconfirmed"


# -- helpers --------------------------------------------------------------------------


def _no_referrer(response: Any) -> Any:
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error_page(title: str, message: str, status: int, detail: str | None = None) -> Response:
    body = render_template("oidc/error.html", title=title, message=message, detail=detail)
    return Response(body, status=status, mimetype="text/html")
