"""Forgotten password: ask for a link by email, then choose a new password with it."""

from __future__ import annotations

import functools
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from idp import deferred, throttle
from idp.domain import audit, passwords, users
from idp.errors import InvalidInput, LinkInvalid
from idp.languages import say
from idp.web.forms import NAME_LABELS, field, name_errors, new_password_errors
from idp.web.transaction import transaction

bp = Blueprint("password", __name__, url_prefix="/password")


@bp.route("/forgot", methods=["GET", "POST"])
@throttle.by_address("password_reset")
def forgot() -> Any:
    auth = current_app.extensions["idp.settings"].auth
    error = None
    email = field(request.args, "email", 254)
    if request.method == "POST":
        email = field(request.form, "email", 254)
        try:
            users.normalise_email(email)
        except InvalidInput as exc:
            error = say(exc)
        else:
            # The same page whether or not the address has an account. Finding the account
            # and writing the email happen after the response has gone, so its timing says
            # nothing either (tests/security/test_enumeration.py).
            deferred.after_response(
                functools.partial(
                    _send_reset_link,
                    current_app._get_current_object(),  # type: ignore[attr-defined]
                    email,
                    auth.password_reset_ttl // 60,
                    request.remote_addr,
                    str(get_locale() or "en"),
                )
            )
            return render_template("password/sent.html", email=email)
    return render_template("password/forgot.html", email=email, error=error)


def _send_reset_link(app: Flask, email: str, minutes: int, ip: str | None, language: str) -> None:
    # After the response, outside the request: the email is in the language of the page.
    with app.app_context(), force_locale(language):
        token = audit.source_ip.set(ip)
        try:
            with transaction():
                passwords.request_reset(users.signing_in_with(email), minutes=minutes)
        finally:
            audit.source_ip.reset(token)


@bp.post("/strength")
def strength() -> Any:
    """The strength meter's estimate of a password being typed (JSON; CSRF-protected, never
    stored or logged). The page works without it."""
    password = (request.form.get("password") or "")[:256]
    hints: tuple[str, ...] = ()
    if current_user.is_authenticated:
        hints = (current_user.given_name, current_user.family_name, current_user.email or "")
    estimate = passwords.strength(password, hints)
    estimate["label"] = say(str(estimate["label"]))
    return jsonify(estimate)


RESET_TOKEN = "password_reset_token"


def _link_invalid(message: str) -> Any:
    response = make_response(render_template("password/link_invalid.html", message=message), 410)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/reset/<token>")
def open_reset_link(token: str) -> Any:
    """The emailed link: its token moves into the session and the browser moves on to a page
    whose address holds no secret (not in the history, not in any Referer)."""
    auth = current_app.extensions["idp.settings"].auth
    try:
        passwords.user_for_reset_token(token, auth.password_reset_ttl)
    except LinkInvalid as exc:
        return _link_invalid(say(exc))
    session[RESET_TOKEN] = token
    response = redirect(url_for("password.reset"))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Any:
    auth = current_app.extensions["idp.settings"].auth
    try:
        user = passwords.user_for_reset_token(
            str(session.get(RESET_TOKEN, "")), auth.password_reset_ttl
        )
    except LinkInvalid as exc:
        session.pop(RESET_TOKEN, None)
        return _link_invalid(say(exc))
    errors: list[tuple[str, str]] = []
    # An unverified sign-up's name is whatever whoever signed up typed (perhaps a squatter's
    # words, meant for the address's owner to read in our emails): its owner gives their own.
    naming = passwords.unverified_sign_up(user)
    names = {k: field(request.form, k, 254) for k, _label in NAME_LABELS}
    if request.method == "POST":
        given = (names["given_name"], names["family_name"]) if naming else None
        errors = (name_errors(names) if naming else []) + new_password_errors(
            user, request.form, auth, given
        )
        if not errors:
            with transaction():
                activating = passwords.reset_activates(user)
                if naming:
                    users.rename(user, names["given_name"], names["family_name"])
                # (Its notice greets nobody by name: the address is not verified yet.)
                passwords.set_password(user, request.form["password"])
                if activating and user.email:
                    # The link proves the address: the account is active now, with this
                    # password, not the temporary one nor one chosen at sign-up by someone
                    # squatting it.
                    users.activate(user, user.email)
                passwords.sign_out_everywhere(user)
            session.pop(RESET_TOKEN, None)
            flash(_("Your password has been changed. Sign in with your new password."), "success")
            return redirect(url_for("auth.login", email=user.email))
    min_length = passwords.min_length_for(user, auth)
    return render_template(
        "password/reset.html",
        errors=errors,
        min_length=min_length,
        naming=naming,
        names=names,
    )
