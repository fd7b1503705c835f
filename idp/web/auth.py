"""Signing in with an email address and a password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_login import current_user, login_user

from idp.domain import audit, sessions, users
from idp.errors import InvalidCredentials
from idp.extensions import db
from idp.oidc import interactions
from idp.oidc.routes import continue_authorization
from idp.web.forms import field, safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    interaction = interactions.get(request.values.get("ix"))
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and interaction is None and current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    email = interactions.login_hint(interaction)
    error = None
    if request.method == "POST":
        email = field(request.form, "email", 254)
        password = request.form.get("password") or ""
        try:
            user = users.authenticate(email, password)
        except InvalidCredentials as exc:
            db.session.rollback()
            known = users.find_by_email(email)
            audit.record(
                "sign_in.failed",
                actor=known,
                actor_label="" if known else "unknown",
                ip=request.remote_addr,
            )
            db.session.commit()
            error = exc.message
        else:
            return _signed_in(user, interaction, next_url)
    return interactions.login_page(interaction, email, error, next_url)


def _signed_in(user: Any, interaction: Any, next_url: str | None) -> Any:
    """Open (or, for the same user, refresh) the sign-in session and carry on."""
    ttl = current_app.extensions["idp.settings"].auth.session_ttl
    amr = ["pwd"]
    current = current_user.auth_session if current_user.is_authenticated else None
    if current is not None and current.user_id == user.id:
        sessions.reauthenticate(current, amr, ttl)
        auth_session = current
    else:
        if current is not None:
            sessions.end(current)  # another person is signing in on this browser
        auth_session = sessions.start(
            user, amr, ttl, ip=request.remote_addr, user_agent=request.user_agent.string
        )
    mine = session.get(interactions.SESSION_KEY, [])
    session.clear()  # a sign-in starts a new browser session: new CSRF token, no fixation
    session[interactions.SESSION_KEY] = mine
    user.attach_session(auth_session)
    login_user(user)
    audit.record("sign_in.succeeded", actor=user, ip=request.remote_addr, amr=amr)
    if interaction is not None:
        interactions.mark_signed_in(interaction, auth_session.sid)
    db.session.commit()
    if interaction is not None:
        # Straight on with the authorization request, without another round trip.
        return continue_authorization(interaction)
    return redirect(next_url or url_for("home.index"))
