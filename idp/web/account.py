"""The account pages: *Personal info* (name, password, email addresses, a copy of one's data),
*Security* (authenticator app, recovery codes, sessions) and *Connected accounts*."""

from __future__ import annotations

import json
from math import ceil
from typing import Any

import segno
from cryptography.fernet import InvalidToken
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
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from idp import clock
from idp.config import AuthSettings
from idp.domain import (
    address_changes,
    audit,
    consents,
    emails,
    passwords,
    personal_data,
    sessions,
    throttling,
    totp,
    users,
)
from idp.domain import connected as connected_accounts
from idp.errors import DomainError, InvalidInput, TooSoon
from idp.extensions import db
from idp.languages import say
from idp.models import AuthSession
from idp.page_policy import allow_upstream
from idp.security import fernet
from idp.security import passwords as hasher
from idp.web import passkeys as passkey_pages
from idp.web.auth import backoff_policy, code_policy, failed_from, known_device
from idp.web.device_names import signed_in_devices
from idp.web.forms import field, mask_email, new_password_errors
from idp.web.transaction import transaction

bp = Blueprint("account", __name__, url_prefix="/account")
EMAIL_CHANGE = "email_change"
TOTP_SETUP = "totp_setup"


@bp.before_request
@login_required
def _signed_in_only() -> None:
    """Every account page needs a signed-in user (Flask-Login sends others to sign in)."""


def _auth() -> AuthSettings:
    return current_app.extensions["idp.settings"].auth


def current_password_refused(wrong: str) -> str | None:
    """Check the form's ``current_password``: None when it is right, else the message to show
    (``wrong``, or how long to wait).

    A wrong one is a failed password attempt for the account, exactly as at sign-in
    (``sign_in.failed``, counted by the same back-off), so whoever holds a stolen session
    guesses no faster here than on the sign-in page; while the back-off lasts even the right
    one is refused (``sign_in.throttled``, which does not lengthen the wait). The event is
    committed here, in its own transaction before the page's, so a refused action still counts.
    """
    user = current_user._get_current_object()
    waiting = throttling.wait_remaining(user, backoff_policy(), known_device=known_device(user))
    if not waiting:
        password = (request.form.get("current_password") or "")[: passwords.MAX_PASSWORD_LENGTH]
        if hasher().verify(user.password_hash, password):
            return None
    with transaction():
        audit.record(
            "sign_in.throttled" if waiting else "sign_in.failed",
            actor=user,
            ip=request.remote_addr,
            reason="current_password",
            page=request.endpoint,
            **failed_from(user),
        )
    if not waiting:
        return wrong
    minutes = ceil(waiting / 60)
    return ngettext(
        "Too many wrong passwords. Wait %(num)d minute, then try again.",
        "Too many wrong passwords. Wait %(num)d minutes, then try again.",
        minutes,
    )


def _refresh_browser_session() -> None:
    """After a change of credentials, a new browser session (and CSRF token), same sign-in."""
    user = current_user._get_current_object()
    auth_session = user.auth_session
    session.clear()
    user.attach_session(auth_session)
    login_user(user)


@bp.context_processor
def _waiting_address_change() -> dict[str, Any]:
    """``address_change()``: an exams officer's change of the person's main address waiting
    for its link, if any (asked for by Personal info only)."""
    return {"address_change": lambda: address_changes.pending(current_user)}


@bp.get("/")
def index() -> Any:
    return redirect(url_for("account.personal"))


# -- personal info --------------------------------------------------------------------------


@bp.get("/personal")
def personal() -> Any:
    return render_template("account/personal.html", errors=[], section="personal")


@bp.get("/data")
def download_data() -> Any:
    """A copy of what the service holds about the signed-in person, as a JSON file."""
    catalogue = current_app.extensions["idp.settings"].catalogue
    data = personal_data.export(current_user, catalogue)
    with transaction():
        audit.record(
            "user.data_downloaded",
            actor=current_user,
            target_type="user",
            target_id=current_user.sub,
        )
    response = current_app.response_class(
        json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="my-cambridge-data-{clock.now():%Y-%m-%d}.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/name")
def change_name() -> Any:
    with transaction(InvalidInput) as tx:
        users.rename(
            current_user, field(request.form, "given_name"), field(request.form, "family_name")
        )
    if tx.error is not None:
        field_id = "family_name" if "last name" in tx.error.text.msgid else "given_name"
        return render_template(
            "account/personal.html", errors=[(field_id, say(tx.error))], section="personal"
        ), 400
    flash(_("Your name has been changed."), "success")
    return redirect(url_for("account.personal"))


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> Any:
    auth = _auth()
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        refused = current_password_refused(_("Your current password is not correct."))
        if refused:
            errors.append(("current_password", refused))
        else:
            errors = new_password_errors(current_user, request.form, auth)
        if not errors:
            with transaction():
                passwords.set_password(current_user, request.form["password"])
                ended = passwords.sign_out_everywhere(
                    current_user, keep_sid=current_user.auth_session.sid
                )
            _refresh_browser_session()
            if ended:
                message = ngettext(
                    "Your password has been changed. You were signed out on %(num)d other device.",
                    "Your password has been changed. You were signed out on %(num)d other devices.",
                    ended,
                )
            else:
                message = _("Your password has been changed.")
            flash(message, "success")
            return redirect(url_for("account.personal"))
    min_length = passwords.min_length_for(current_user, auth)
    return render_template(
        "account/password.html", errors=errors, min_length=min_length, section="personal"
    )


@bp.post("/emails/add")
def add_email() -> Any:
    refused = current_password_refused(_("Your current password is not correct."))
    if refused:
        return render_template(
            "account/personal.html",
            errors=[("current_password", refused)],
            section="personal",
            new_email=field(request.form, "email"),
        ), 400
    with transaction(DomainError) as tx:
        address = emails.start_adding(current_user, field(request.form, "email"), code_policy())
    if isinstance(tx.error, TooSoon):
        flash(say(tx.error), "warning")
        return redirect(url_for("account.personal"))
    if tx.error is not None:
        return render_template(
            "account/personal.html",
            errors=[("email", say(tx.error))],
            section="personal",
            new_email=field(request.form, "email"),
        ), 400
    session[EMAIL_CHANGE] = {"purpose": "add_email", "address": address}
    return redirect(url_for("account.verify_email"))


@bp.post("/emails/primary")
def make_primary() -> Any:
    address = field(request.form, "email", 254)
    with transaction(DomainError) as tx:
        emails.start_making_primary(current_user, address, code_policy())
    if tx.error is not None and not isinstance(tx.error, TooSoon):
        # (TooSoon: the code sent a moment ago still works.)
        flash(say(tx.error), "warning")
        return redirect(url_for("account.personal"))
    session[EMAIL_CHANGE] = {"purpose": "change_primary", "address": address}
    return redirect(url_for("account.verify_email"))


@bp.post("/emails/remove")
def remove_email() -> Any:
    with transaction(DomainError) as tx:
        emails.remove(current_user, field(request.form, "email", 254))
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(_("The email address has been removed from your account."), "success")
    return redirect(url_for("account.personal"))


@bp.post("/emails/change/cancel")
def cancel_address_change() -> Any:
    """The person stops a change of their main address that someone else asked for."""
    with transaction(DomainError) as tx:
        address_changes.cancel(current_user, by=current_user)
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(
            _(
                "The change has been cancelled. %(email)s stays your main email address.",
                email=current_user.email,
            ),
            "success",
        )
    return redirect(url_for("account.personal"))


@bp.route("/emails/verify", methods=["GET", "POST"])
def verify_email() -> Any:
    change = session.get(EMAIL_CHANGE)
    if not isinstance(change, dict) or change.get("purpose") not in ("add_email", "change_primary"):
        return redirect(url_for("account.personal"))
    purpose, address = change["purpose"], change["address"]
    error = notice = None
    if request.method == "POST" and request.form.get("action") == "resend":
        with transaction(DomainError) as tx:
            if purpose == "add_email":
                emails.start_adding(current_user, address, code_policy())
            else:
                emails.start_making_primary(current_user, address, code_policy())
        if tx.error is not None:
            error = say(tx.error)
        else:
            notice = _("We have sent you a new code. Codes sent earlier no longer work.")
    elif request.method == "POST":
        code = request.form.get("code") or ""
        with transaction():
            try:
                if purpose == "add_email":
                    emails.finish_adding(current_user, address, code, code_policy())
                    message = _("%(address)s has been added to your account.", address=address)
                else:
                    emails.finish_making_primary(current_user, address, code, code_policy())
                    message = _("%(address)s is now your main email address.", address=address)
            except DomainError as exc:
                error = say(exc)  # a wrong attempt counts: committed
        if error is None:
            session.pop(EMAIL_CHANGE, None)
            flash(message, "success")
            return redirect(url_for("account.personal"))
    sent_to = address if purpose == "add_email" else (current_user.email or "")
    return render_template(
        "account/verify_email.html",
        error=error,
        notice=notice,
        purpose=purpose,
        address=address,
        sent_to=mask_email(sent_to) if purpose == "change_primary" else sent_to,
        minutes=_auth().code_ttl // 60,
        section="personal",
    )


# -- security -------------------------------------------------------------------------------


@bp.get("/security")
def security() -> Any:
    return render_template(
        "account/security.html",
        devices=signed_in_devices(
            sessions.live_for(current_user, _auth().session_idle_ttl),
            current_user.auth_session.sid,
        ),
        recovery_left=totp.remaining_recovery_codes(current_user),
        passkeys=passkey_pages.listed(current_user),
        passkey_recent=passkey_pages.recently_signed_in(),
        section="security",
    )


@bp.route("/security/authenticator", methods=["GET", "POST"])
def setup_totp() -> Any:
    if current_user.has_totp:
        return redirect(url_for("account.security"))
    box = fernet("totp-setup")
    secret = None
    if isinstance(session.get(TOTP_SETUP), str):
        try:
            secret = box.decrypt(session[TOTP_SETUP].encode(), ttl=1800).decode()
        except InvalidToken:  # older than 30 minutes, or not ours: start again
            secret = None
    if secret is None or request.method == "GET":
        secret = totp.new_secret()
        session[TOTP_SETUP] = box.encrypt(secret.encode()).decode()
    errors: list[tuple[str, str]] = []
    refused = (
        current_password_refused(_("Your current password is not correct."))
        if request.method == "POST"
        else None
    )
    if refused:
        # Whoever holds a stolen session must not be able to lock the owner out.
        errors.append(("current_password", refused))
    elif request.method == "POST":
        with transaction(DomainError) as tx:
            codes = totp.enable(current_user, secret, request.form.get("code") or "")
        if tx.error is not None:
            errors.append(("code", say(tx.error)))
        else:
            session.pop(TOTP_SETUP, None)
            _refresh_browser_session()
            return render_template("account/recovery_codes.html", codes=codes, section="security")
    uri = totp.provisioning_uri(secret, current_user.email or current_user.sub)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "account/setup_totp.html", qr=qr, secret=grouped, errors=errors, section="security"
    )


@bp.post("/security/authenticator/remove")
def remove_totp() -> Any:
    refused = current_password_refused(
        _("Your current password is not correct. The authenticator app is still set up.")
    )
    if refused:
        flash(refused, "warning")
        return redirect(url_for("account.security"))
    auth = _auth()
    with transaction():
        totp.disable(current_user)
    message = _("Your authenticator app has been removed.")
    if auth.password_min_length > auth.password_min_length_with_totp:
        message += " " + _(
            "If your password is shorter than %(num)d characters, change it now.",
            num=auth.password_min_length,
        )
    flash(message, "success")
    return redirect(url_for("account.security"))


@bp.post("/security/recovery-codes")
def new_recovery_codes() -> Any:
    if not current_user.has_totp and not passkey_pages.listed(current_user):
        abort(404)
    refused = current_password_refused(
        _("Your current password is not correct. Your recovery codes have not changed.")
    )
    if refused:
        flash(refused, "warning")
        return redirect(url_for("account.security"))
    with transaction():
        codes = totp.new_recovery_codes(current_user)
        audit.record(
            "user.recovery_codes_replaced",
            actor=current_user,
            target_type="user",
            target_id=current_user.sub,
        )
    return render_template(
        "account/recovery_codes.html",
        codes=codes,
        for_passkey=not current_user.has_totp,
        section="security",
    )


@bp.post("/security/sessions/end")
def end_session() -> Any:
    try:
        session_id = int(request.form.get("session") or "")
    except ValueError:
        abort(400)
    target = db.session.get(AuthSession, session_id)
    if target is None or target.user_id != current_user.id or target.ended_at is not None:
        abort(404)
    if target.sid == current_user.auth_session.sid:
        abort(400)
    with transaction():
        sessions.end(target)
    flash(_("That device has been signed out."), "success")
    return redirect(url_for("account.security"))


@bp.post("/security/sign-out-everywhere")
def sign_out_everywhere() -> Any:
    with transaction():
        passwords.sign_out_everywhere(current_user)
        audit.record(
            "user.signed_out_everywhere",
            actor=current_user,
            target_type="user",
            target_id=current_user.sub,
        )
    logout_user()
    session.clear()
    flash(_("You have been signed out on every device, including this one."), "success")
    return redirect(url_for("auth.login"))


# -- apps with access ----------------------------------------------------------------------


@bp.get("/apps")
def apps() -> Any:
    return render_template(
        "account/apps.html", granted=consents.for_user(current_user), section="apps"
    )


@bp.post("/apps/revoke")
def revoke_app() -> Any:
    with transaction():
        consents.revoke(current_user, field(request.form, "client_id", 64))
    flash(_("The service no longer has access to your account."), "success")
    return redirect(url_for("account.apps"))


# -- connected accounts ------------------------------------------------------------------


@bp.get("/connected")
def connected() -> Any:
    from idp.web.connected import recently_signed_in

    settings = current_app.extensions["idp.settings"]
    for upstream in settings.upstreams:  # "Connect" posts, then leaves for the provider
        allow_upstream(upstream)
    return render_template(
        "account/connected.html",
        section="connected",
        upstreams=settings.upstreams,
        mine=connected_accounts.connections(current_user),
        recent=recently_signed_in(),
    )
