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
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from idp import deferred
from idp.domain import audit, passwords, users
from idp.errors import InvalidInput, LinkInvalid
from idp.extensions import db
from idp.web import throttle
from idp.web.forms import field, new_password_errors

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
            error = exc.message
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
                )
            )
            return render_template("password/sent.html", email=email)
    return render_template("password/forgot.html", email=email, error=error)


def _send_reset_link(app: Flask, email: str, minutes: int, ip: str | None) -> None:
    with app.app_context():
        token = audit.source_ip.set(ip)
        try:
            passwords.request_reset(users.signing_in_with(email), minutes=minutes)
            db.session.commit()
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
    return jsonify(passwords.strength(password, hints))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    auth = current_app.extensions["idp.settings"].auth
    try:
        user = passwords.user_for_reset_token(token, auth.password_reset_ttl)
    except LinkInvalid as exc:
        return render_template("password/link_invalid.html", message=exc.message), 410
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        errors = new_password_errors(user, request.form, auth)
        if not errors:
            passwords.set_password(user, request.form["password"])
            passwords.sign_out_everywhere(user)
            db.session.commit()
            flash("Your password has been changed. Sign in with your new password.", "success")
            return redirect(url_for("auth.login", email=user.email))
    min_length = passwords.min_length_for(user, auth)
    return render_template("password/reset.html", errors=errors, min_length=min_length, token=token)
