"""Passkeys on the pages: *Account → Security* (add after a recent sign-in, rename, remove),
*Sign in with a passkey* on the sign-in page, and a passkey as the step after a password.

Each ceremony is two requests. The page's script (``static/passkeys.js``) asks for options
(a POST carrying the page's CSRF token in the ``X-CSRFToken`` header), hands them to the
browser's WebAuthn API, then sends the browser's answer in an ordinary form (with its CSRF
token), so that the answer is handled like any other form: a redirect, or the page again with
the reason. Without JavaScript none of it shows, and the password works as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp import clock, throttle
from idp.domain import passkeys, totp
from idp.domain.mailing import Mail, send
from idp.domain.passkeys import (
    ChallengeSpent,
    PasskeyCloned,
    PasskeyExists,
    PasskeyNameInvalid,
    PasskeyRefused,
    PasskeyRequired,
    Where,
)
from idp.errors import DomainError
from idp.models import Passkey, User
from idp.oidc import interactions
from idp.web import pending
from idp.web.auth import passkey_relying_party, signed_in, start_again
from idp.web.device_names import device_name
from idp.web.forms import field, safe_next
from idp.web.transaction import transaction

bp = Blueprint("passkeys", __name__)
HANDLE = "passkey_challenge"  # the session key of the current ceremony's challenge handle


def challenge_ttl() -> int:
    return int(current_app.extensions["idp.settings"].auth.passkey_challenge_ttl)


def where() -> Where:
    return Where(request.remote_addr, request.user_agent.string)


@bp.app_context_processor
def _usable() -> dict[str, Any]:
    """``passkeys_usable``: whether this provider's address can have passkeys (a domain name,
    not an IP address): the pages offer them only then."""
    return {"passkeys_usable": passkey_relying_party().usable}


def ceremony_options(handle: str, options: str) -> Any:
    """The options for the browser; the challenge's handle kept in this browser's session."""
    session[HANDLE] = handle
    response = current_app.response_class(options, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal(error: DomainError) -> str:
    if isinstance(error, PasskeyNameInvalid):
        return _("Enter a name for the passkey, up to %(num)d characters.", num=passkeys.NAME_MAX)
    if isinstance(error, PasskeyExists):
        return _("This passkey is already registered.")
    if isinstance(error, ChallengeSpent):
        return _("That took too long, or the page was out of date. Please try again.")
    if isinstance(error, PasskeyCloned):
        return _(
            "This passkey cannot be used: it looks like a copy of another. Sign in another way,"
            " and tell your exams officer."
        )
    return _("That passkey could not be used here. Try again, or sign in another way.")


# -- Account → Security --------------------------------------------------------------------


def recently_signed_in() -> bool:
    """The sign-in is recent enough to add a passkey (``auth.passkey_recent_sign_in``)."""
    auth_session = current_user.auth_session
    limit = current_app.extensions["idp.settings"].auth.passkey_recent_sign_in
    return (clock.now() - auth_session.auth_time).total_seconds() <= limit


def _when(moment: datetime) -> str:
    return _("%(when)s UTC", when=format_datetime(moment, "d MMM y HH:mm"))


def listed(user: User) -> list[dict[str, Any]]:
    """The person's passkeys as *Account → Security* lists them: name, when and where it was
    added and last used ("Chrome on Linux", as the signed-in devices are named)."""
    rows = []
    for p in passkeys.of(user):
        rows.append(
            {
                "passkey": p,
                "added": _when(p.created_at),
                "added_on": device_name(p.created_user_agent),
                "used": _when(p.last_used_at) if p.last_used_at else None,
                "used_on": device_name(p.last_used_user_agent) if p.last_used_at else None,
                "used_ip": p.last_used_ip,
            }
        )
    return rows


def _json_refusal(message: str, status: int) -> Any:
    """A refusal the page's script shows beside the form."""
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.post("/account/security/passkeys/options")
@login_required
def registration_options() -> Any:
    if not passkey_relying_party().usable:
        abort(404)
    if not recently_signed_in():
        return _json_refusal(_("Sign in again before adding a passkey."), 403)
    try:
        passkeys.clean_name(field(request.form, "name", 200))
    except PasskeyNameInvalid as exc:
        return _json_refusal(_refusal(exc), 400)
    with transaction():
        handle, options = passkeys.registration_options(
            current_user, passkey_relying_party(), challenge_ttl()
        )
    return ceremony_options(handle, options)


def _notify(user: User, passkey: Passkey, *, added: bool) -> None:
    """The email that says a passkey was added or removed (leaves once the change commits)."""
    if user.email:
        send(
            Mail(
                "passkey_changed",
                to=user.email,
                params={"name": user.name, "passkey": passkey.name, "added": added},
            )
        )


@bp.post("/account/security/passkeys")
@login_required
def add() -> Any:
    if not passkey_relying_party().usable:
        abort(404)
    if not recently_signed_in():
        flash(_("Sign in again before adding a passkey."), "warning")
        return redirect(url_for("account.security"))
    name = field(request.form, "name", 200)
    next_url = safe_next(request.form.get("next"))
    handle = session.pop(HANDLE, None)
    with transaction(DomainError) as tx:
        passkey = passkeys.register(
            current_user,
            handle,
            request.form.get("credential") or "",
            name,
            passkey_relying_party(),
            where(),
        )
        _notify(current_user, passkey, added=True)
        # Someone who could lose their only device gets recovery codes with their first passkey.
        codes = (
            totp.new_recovery_codes(current_user)
            if totp.remaining_recovery_codes(current_user) == 0
            else None
        )
    if tx.error is not None:
        with transaction():  # the refused answer's challenge is not tried again
            passkeys.spend(handle)
        flash(_refusal(tx.error), "warning")
        if next_url:  # back to the page that asks for a passkey
            return redirect(url_for("passkeys.required", next=next_url))
        return redirect(url_for("account.security"))
    flash(_('Your passkey "%(name)s" has been added.', name=passkey.name), "success")
    if codes:
        return render_template(
            "account/recovery_codes.html",
            codes=codes,
            for_passkey=True,
            continue_url=next_url,
            section="security",
        )
    return redirect(next_url or url_for("account.security"))


def _mine(passkey_id: int) -> Passkey:
    found = passkeys.find(current_user, passkey_id)
    if found is None:
        abort(404)
    return found


@bp.route("/account/security/passkeys/<int:passkey_id>/rename", methods=["GET", "POST"])
@login_required
def rename(passkey_id: int) -> Any:
    passkey = _mine(passkey_id)
    errors: list[tuple[str, str]] = []
    name = passkey.name
    if request.method == "POST":
        name = field(request.form, "name", 200)
        with transaction(DomainError) as tx:
            passkeys.rename(current_user, passkey_id, name)
        if tx.error is None:
            flash(_('The passkey is now called "%(name)s".', name=name.strip()), "success")
            return redirect(url_for("account.security"))
        errors = [("name", _refusal(tx.error))]
    return render_template(
        "account/passkey_rename.html", passkey=passkey, name=name, errors=errors, section="security"
    ), (400 if errors else 200)


@bp.route("/account/security/passkeys/<int:passkey_id>/remove", methods=["GET", "POST"])
@login_required
def remove(passkey_id: int) -> Any:
    passkey = _mine(passkey_id)
    error = None
    if request.method == "POST" and request.form.get("confirm") == "yes":
        required = passkeys.required_for(current_user, policy_roles())
        with transaction(PasskeyRequired) as tx:
            removed = passkeys.remove(current_user, passkey_id, required=required)
            _notify(current_user, removed, added=False)
        if tx.error is None:
            flash(_('The passkey "%(name)s" has been removed.', name=removed.name), "success")
            return redirect(url_for("account.security"))
        error = _(
            "You need at least one passkey: your roles at your centre require one. Add"
            " another passkey first, then remove this one."
        )
    return render_template(
        "account/passkey_remove.html", passkey=passkey, error=error, section="security"
    ), (400 if error else 200)


# -- signing in ----------------------------------------------------------------------------


@bp.post("/login/passkey/options")
@throttle.by_address("sign_in")
def sign_in_options() -> Any:
    if not passkey_relying_party().usable:
        abort(404)
    with transaction():
        handle, options = passkeys.authentication_options(passkey_relying_party(), challenge_ttl())
    return ceremony_options(handle, options)


def refused(handle: str | None, answer: str, error: PasskeyRefused) -> str:
    """Record the refusal (it stands: a transaction of its own) and say why, in words."""
    with transaction():
        passkeys.refused(handle, answer, error, request.remote_addr)
    return _refusal(error)


@bp.post("/login/passkey")
@throttle.by_address("sign_in")
def sign_in() -> Any:
    interaction = interactions.get(request.form.get("ix"))
    next_url = safe_next(request.form.get("next"))
    answer = request.form.get("credential") or ""
    handle = session.pop(HANDLE, None)
    with transaction(PasskeyRefused) as tx:
        proof = passkeys.authenticate(handle, answer, passkey_relying_party(), where())
        pending.clear()
        return signed_in(proof.user, interaction, next_url, proof.amr)
    assert isinstance(tx.error, PasskeyRefused)
    message = refused(handle, answer, tx.error)
    return interactions.login_page(interaction, "", None, next_url, passkey_error=message), 400


@bp.post("/login/passkey-step/options")
@throttle.by_address("codes")
def second_step_options() -> Any:
    loaded = pending.load(pending.PASSKEY)
    if loaded is None or not passkey_relying_party().usable:
        abort(404)
    _step, user = loaded
    with transaction():
        handle, options = passkeys.authentication_options(
            passkey_relying_party(), challenge_ttl(), user
        )
    return ceremony_options(handle, options)


@bp.route("/login/passkey-step", methods=["GET", "POST"])
@throttle.by_address("codes")
def second_step() -> Any:
    loaded = pending.load(pending.PASSKEY)
    if loaded is None:
        return start_again()
    step, user = loaded
    method = request.args.get("method")
    if request.method == "GET" and method in ("app", "recovery"):
        # Another way to finish: the authenticator app's step, or a recovery code there.
        step.step = pending.TOTP
        pending.save(step)
        return redirect(
            url_for("auth.totp_step", method="recovery" if method == "recovery" else None)
        )
    error = None
    if request.method == "POST":
        answer = request.form.get("credential") or ""
        handle = session.pop(HANDLE, None)
        with transaction(PasskeyRefused) as tx:
            proof = passkeys.authenticate(handle, answer, passkey_relying_party(), where(), user)
            return signed_in(user, interactions.get(step.ix), step.next, [*step.amr, *proof.amr])
        assert isinstance(tx.error, PasskeyRefused)
        error = refused(handle, answer, tx.error)
    return render_template(
        "auth/passkey_step.html",
        error=error,
        has_totp=user.has_totp,
        has_recovery=recovery_codes_left(user) > 0,
    ), (400 if error else 200)


def recovery_codes_left(user: User) -> int:
    return totp.remaining_recovery_codes(user)


# -- the policy: a passkey before anything else, for the roles that need one -----------------

# Reachable before the passkey is added: signing in and out, the passkey ceremonies, and what
# every page needs (its files, its look, the health checks, the demo's outbox).
BEFORE_A_PASSKEY = ("passkeys.", "auth.", "static", "branding.", "health.", "metrics.", "dev.")
BEFORE_A_PASSKEY_ENDPOINTS = {"oidc.end_session", "account.new_recovery_codes"}


def policy_roles() -> frozenset[str]:
    return passkeys.policy_roles(
        current_app.extensions["idp.settings"].auth.phishing_resistant_roles
    )


def must_add_one(user: User) -> bool:
    """The person's roles need a passkey, and they have none (where passkeys can be had)."""
    roles = policy_roles()
    return (
        (bool(roles) or user.is_staff)
        and passkey_relying_party().usable
        and passkeys.required_for(user, roles)
        and not passkeys.has_any(user)
    )


@bp.before_app_request
def _passkey_first() -> Any:
    """Someone whose roles need a passkey and who has none is walked through adding one
    before any other page: My Organisation, a service's sign-in (``/authorize``), home."""
    endpoint = request.endpoint or ""
    if endpoint.startswith(BEFORE_A_PASSKEY) or endpoint in BEFORE_A_PASSKEY_ENDPOINTS:
        return None
    if not current_user.is_authenticated or not must_add_one(current_user):
        return None
    wanted = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("passkeys.required", next=safe_next(wanted)))


@bp.get("/account/passkey-required")
@login_required
def required() -> Any:
    next_url = safe_next(request.args.get("next"))
    if not must_add_one(current_user):
        return redirect(next_url or url_for("home.index"))
    return render_template(
        "account/passkey_required.html",
        next_url=next_url,
        passkey_recent=recently_signed_in(),
    )
