"""Connected accounts: connect Google, Facebook (any ``[[upstream]]``) to an account from
*Account -> Connected accounts*, disconnect it, and sign in with it.

Both journeys go to the upstream and come back to one callback; what the browser was doing
(signing in, or connecting for the signed-in person) travels in the signed session beside
Authlib's state. Connecting needs a sign-in in the last 10 minutes or the current password.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp import clock, throttle
from idp.config import Upstream
from idp.domain import audit, connected, users
from idp.errors import DomainError
from idp.languages import say
from idp.models import UserStatus
from idp.oidc import upstream as upstreams
from idp.oidc.upstream import UpstreamError
from idp.web.account import current_password_refused
from idp.web.auth import after_first_factor
from idp.web.forms import safe_next
from idp.web.transaction import transaction

bp = Blueprint("connected", __name__)
FLOW = "upstream_flow"
RECENT_SIGN_IN = timedelta(minutes=10)


def _upstream(key: str) -> Upstream:
    found = upstreams.get(key)
    if found is None:
        abort(404)
    return found


def _callback_url(key: str) -> str:
    """Built from the issuer, never from the request's Host header."""
    issuer = current_app.extensions["idp.settings"].oidc.issuer
    return issuer + url_for("connected.callback", key=key)


def _go(upstream: Upstream, flow: dict[str, Any], back: str) -> Any:
    session[FLOW] = {"key": upstream.key, **flow}
    try:
        return upstreams.start(upstream, _callback_url(upstream.key))
    except UpstreamError as exc:
        session.pop(FLOW, None)
        flash(exc.message, "warning")
        return redirect(back)


@bp.post("/login/with/<key>")
@throttle.by_address("sign_in")
def sign_in_with(key: str) -> Any:
    upstream = _upstream(key)
    flow = {
        "purpose": "sign_in",
        "ix": request.form.get("ix") or None,
        "next": safe_next(request.form.get("next")),
    }
    return _go(upstream, flow, url_for("auth.login"))


def recently_signed_in() -> bool:
    auth_session = current_user.auth_session
    return auth_session is not None and clock.now() - auth_session.auth_time <= RECENT_SIGN_IN


@bp.post("/account/connected/<key>/connect")
@login_required
def connect(key: str) -> Any:
    upstream = _upstream(key)
    if not recently_signed_in():
        # Counted and backed off as at sign-in (a stolen session guesses no faster here).
        refused = current_password_refused(
            _(
                "To connect %(provider)s, enter your current password (you signed in more"
                " than 10 minutes ago).",
                provider=upstream.name,
            )
        )
        if refused:
            flash(refused, "warning")
            return redirect(url_for("account.connected"))
    flow = {"purpose": "link", "user": current_user.sub}
    return _go(upstream, flow, url_for("account.connected"))


@bp.post("/account/connected/<key>/disconnect")
@login_required
def disconnect(key: str) -> Any:
    upstream = _upstream(key)
    with transaction(DomainError) as tx:
        connected.unlink(current_user, upstream.key, upstream.name)
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(
            _("%(provider)s has been disconnected from your account.", provider=upstream.name),
            "success",
        )
    return redirect(url_for("account.connected"))


def _problem(upstream: Upstream, message: str, status: int = 400, **context: Any) -> Any:
    return render_template(
        "auth/upstream_problem.html", upstream=upstream, message=message, **context
    ), status


@bp.get("/login/with/<key>/callback")
def callback(key: str) -> Any:
    upstream = _upstream(key)
    flow = session.pop(FLOW, None)
    if not isinstance(flow, dict) or flow.get("key") != key:
        return _problem(
            upstream,
            _(
                "This answer from %(provider)s does not belong to a sign-in started in this"
                " browser, or it was used already. Start again.",
                provider=upstream.name,
            ),
        )
    try:
        identity = upstreams.finish(upstream)
    except UpstreamError as exc:
        return _problem(upstream, exc.message)
    if flow.get("purpose") == "link":
        return _link(upstream, identity, flow)
    return _sign_in(upstream, identity, flow)


def _link(upstream: Upstream, identity: connected.Identity, flow: dict[str, Any]) -> Any:
    if not current_user.is_authenticated or current_user.sub != flow.get("user"):
        return _problem(upstream, _("You are no longer signed in. Sign in and try again."))
    with transaction(DomainError) as tx:
        connected.link(current_user, identity, upstream.name)
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(
            _(
                "%(provider)s is connected. You can now sign in with %(provider)s.",
                provider=upstream.name,
            ),
            "success",
        )
    return redirect(url_for("account.connected"))


def _sign_in(upstream: Upstream, identity: connected.Identity, flow: dict[str, Any]) -> Any:
    with transaction():
        found = connected.account_for(identity)
        if found is not None and found[0].status == UserStatus.ACTIVE:
            user, connection = found
            connected.signed_in_with(connection)
            return after_first_factor(
                user,
                flow.get("ix"),
                safe_next(flow.get("next")),
                ["fed"],
                second_steps=upstream.second_factor,
            )
        audit.record(
            "sign_in.failed",
            actor=found[0] if found else None,
            actor_label="" if found else "unknown",
            ip=request.remote_addr,
            reason="upstream_not_connected" if found is None else "not_active",
            upstream=upstream.key,
        )
    if found is not None:
        return _problem(upstream, _("This account cannot be used to sign in."), 403)
    # Never matched by email alone: the owner of an account with this (verified) address
    # proves it with the password, then connects from their account.
    has_account = bool(
        identity.email_verified and identity.email and users.find_by_email(identity.email)
    )
    return _problem(
        upstream,
        _(
            "No My Cambridge account is connected to this %(provider)s account.",
            provider=upstream.name,
        ),
        403,
        has_account=has_account,
        email=identity.email if has_account else None,
        self_signup=current_app.extensions["idp.settings"].auth.self_signup,
    )
