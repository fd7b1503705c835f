"""Signing in: the password, then whatever step the account needs next.

``/login`` checks the password. An invited account goes on to *Set password* and an emailed
code; an account with TOTP to its authenticator code; an account on a device it has not
verified to an emailed code (as configured). Only the last step opens a sign-in session and
resumes the authorization request that sent the user here, if any.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user, login_user

from idp import clock, languages, throttle
from idp.config import AuthSettings
from idp.domain import (
    audit,
    passkeys,
    passwords,
    sessions,
    throttling,
    totp,
    users,
    verification,
)
from idp.domain.passkeys import RelyingParty
from idp.domain.verification import CodePolicy
from idp.errors import (
    AccountThrottled,
    CodeInvalid,
    DomainError,
    InvalidCredentials,
    TemporaryPasswordExpired,
    TooSoon,
)
from idp.languages import say
from idp.models import User, UserStatus
from idp.oidc import interactions
from idp.oidc.interactions import ParkedRequest
from idp.web import devices, pending
from idp.web.forms import field, mask_email, new_password_errors, safe_next
from idp.web.transaction import transaction

bp = Blueprint("auth", __name__)


def _auth() -> AuthSettings:
    return current_app.extensions["idp.settings"].auth


def passkey_relying_party() -> RelyingParty:
    """Who passkeys are for: the configured issuer."""
    return RelyingParty.for_issuer(current_app.extensions["idp.settings"].oidc.issuer)


def code_policy() -> CodePolicy:
    auth = _auth()
    return CodePolicy(auth.code_ttl, auth.code_max_attempts, auth.code_resend_interval)


def backoff_policy() -> throttling.Backoff:
    limits = current_app.extensions["idp.settings"].rate_limits
    return throttling.Backoff(
        limits.account_free_failures, limits.account_backoff_base, limits.account_backoff_max
    )


def known_device(user: User) -> str | None:
    """This browser, if it has signed in to ``user``'s account before (since its password):
    a digest of its device id; else None."""
    return devices.this_device(user, _auth().device_cookie_ttl)


def failed_from(user: User | None) -> dict[str, Any]:
    """What a wrong password's event says of the browser it was typed in, for the back-off."""
    device = known_device(user) if user is not None else None
    return {throttling.KNOWN_DEVICE: device} if device else {}


@bp.route("/login", methods=["GET", "POST"])
@throttle.by_address("sign_in")
def login() -> Any:
    interaction = interactions.get(request.values.get("ix"))
    next_url = safe_next(request.values.get("next"))
    again = bool(request.args.get("again")) and current_user.is_authenticated
    if request.method == "GET" and interaction is None and current_user.is_authenticated:
        # ``again``: a signed-in person proves it is still them (before adding a passkey).
        if not again:
            return redirect(next_url or url_for("home.index"))
    email = interactions.login_hint(interaction) or field(request.args, "email", 254)
    if again and not email:
        email = current_user.email or ""
    error = None
    if request.method == "POST":
        email = field(request.form, "email", 254)
        password = request.form.get("password") or ""
        with transaction(InvalidCredentials, TemporaryPasswordExpired) as tx:
            user = users.authenticate(
                email, password, backoff=backoff_policy(), known_device=known_device
            )
            return after_password(user, interaction.id if interaction else None, next_url)
        failure = tx.error
        if failure is not None:
            with transaction():  # a second one on purpose: the failure is kept, the attempt not
                known = users.find_by_email(email)
                audit.record(
                    # A try inside the wait is not another failure: the wait does not grow.
                    "sign_in.throttled"
                    if isinstance(failure, AccountThrottled)
                    else "sign_in.failed",
                    actor=known,
                    actor_label="" if known else "unknown",
                    ip=request.remote_addr,
                    reason=type(failure).__name__,
                    **failed_from(known),
                )
            error = say(failure)
    return interactions.login_page(interaction, email, error, next_url)


def after_password(user: User, ix: str | None, next_url: str | None) -> Any:
    """The password was right: go to the account's next step, or finish signing in (in the
    caller's transaction)."""
    auth = _auth()
    pending.clear()
    if user.must_change_password:
        pending.begin(
            user, pending.SET_PASSWORD, auth.pending_sign_in_ttl, ix=ix, next_url=next_url
        )
        return redirect(url_for("auth.set_password"))
    if user.status == UserStatus.INVITED:
        return ask_for_code(user, "activation", ix, next_url)
    return after_first_factor(user, ix, next_url, ["pwd"])


def after_first_factor(
    user: User, ix: str | None, next_url: str | None, amr: list[str], *, second_steps: bool = True
) -> Any:
    """A first factor (a password, a connected account: ``amr``) was right: the authenticator
    app, then a new device's emailed code, as the account and the configuration ask; then in.
    ``second_steps=False`` (an upstream trusted alone) goes straight in. The caller's
    transaction commits what the steps write."""
    auth = _auth()
    pending.clear()
    if second_steps and passkeys.has_any(user) and passkey_relying_party().usable:
        step = pending.begin(
            user, pending.PASSKEY, auth.pending_sign_in_ttl, ix=ix, next_url=next_url
        )
        step.amr = amr
        pending.save(step)
        return redirect(url_for("passkeys.second_step"))
    if second_steps and user.has_totp:
        step = pending.begin(user, pending.TOTP, auth.pending_sign_in_ttl, ix=ix, next_url=next_url)
        step.amr = amr
        pending.save(step)
        return redirect(url_for("auth.totp_step"))
    policy = auth.new_device_verification
    if second_steps and (
        policy == "always"
        or (policy == "new_device" and not devices.known(user, auth.device_cookie_ttl))
    ):
        return ask_for_code(user, "sign_in", ix, next_url, amr=amr)
    return signed_in(user, interactions.get(ix), next_url, amr)


def ask_for_code(
    user: User,
    purpose: str,
    ix: str | None,
    next_url: str | None,
    *,
    decoy_for: str = "",
    amr: list[str] | None = None,
) -> Any:
    """Email a code (unless ``decoy_for``: see Pending.decoy) and go to the page that asks; the
    caller's transaction commits the code (the email leaves only once it is committed)."""
    step = pending.begin(
        user, pending.VERIFY, _auth().pending_sign_in_ttl, ix=ix, next_url=next_url
    )
    step.purpose = purpose
    if amr is not None:
        step.amr = amr
    step.decoy = bool(decoy_for)
    step.address = decoy_for or user.email
    pending.save(step)
    if not decoy_for:
        try:
            verification.issue(user, purpose, user.email or "", code_policy())
        except TooSoon:
            # The code sent a moment ago still works; the page says when it was sent rather
            # than that one was sent now, and offers another once allowed.
            step.earlier_code = True
            pending.save(step)
    return redirect(url_for("auth.verify"))


STEP_ENDPOINTS = {
    pending.SET_PASSWORD: "auth.set_password",
    pending.VERIFY: "auth.verify",
    pending.TOTP: "auth.totp_step",
    pending.PASSKEY: "passkeys.second_step",
}


def start_again() -> Any:
    """Not on this step: back to the step the sign-in is on, or to the start if none."""
    step = pending.current_step()
    if step is not None:
        return redirect(url_for(STEP_ENDPOINTS[step]))
    pending.clear()
    return redirect(url_for("auth.login", timeout=1))


@bp.route("/login/set-password", methods=["GET", "POST"])
def set_password() -> Any:
    loaded = pending.load(pending.SET_PASSWORD)
    if loaded is None:
        return start_again()
    step, user = loaded
    if not user.must_change_password:  # chosen meanwhile, in another browser
        pending.clear()
        return start_again()
    auth = _auth()
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        errors = new_password_errors(user, request.form, auth)
        if not errors:
            with transaction():
                passwords.set_password(
                    user, request.form["password"], notify=user.status != UserStatus.INVITED
                )
                return after_password(user, step.ix, step.next)
    min_length = passwords.min_length_for(user, auth)
    return render_template("auth/set_password.html", errors=errors, min_length=min_length)


@bp.route("/login/verify", methods=["GET", "POST"])
@throttle.by_address("codes")
def verify() -> Any:
    loaded = pending.load(pending.VERIFY)
    if loaded is None:
        return start_again()
    step, user = loaded
    error = notice = None
    # A decoy (see Pending.decoy) keeps the same books as a real code, on the code row made
    # for it but never sent: the resend interval, the attempt cap and the expiry answer alike,
    # and even a lucky guess is refused.
    if request.method == "POST" and request.form.get("action") == "resend":
        with transaction():
            try:
                address = (step.address if step.decoy else user.email) or ""
                verification.issue(user, step.purpose, address, code_policy(), send=not step.decoy)
                notice = _("We have sent you a new code. Codes sent earlier no longer work.")
                step.earlier_code = False
                pending.save(step)
            except TooSoon as exc:
                error = say(exc)
    elif request.method == "POST" and step.decoy:
        with transaction():  # the wrong attempt counts, as below
            try:
                verification.check(
                    user, step.purpose, request.form.get("code") or "", code_policy()
                )
                error = say(CodeInvalid())
            except DomainError as exc:
                error = say(exc)
    elif request.method == "POST":
        with transaction():
            try:
                address = verification.check(
                    user, step.purpose, request.form.get("code") or "", code_policy()
                )
            except DomainError as exc:
                error = say(exc)  # the wrong attempt counts: committed
            else:
                if step.purpose in ("activation", "signup"):
                    users.activate(user, address)
                return signed_in(
                    user, interactions.get(step.ix), step.next, step.amr, emailed_code=True
                )
    address = step.address or verification.sent_to(user, step.purpose) or user.email or ""
    # Only after the account's password (a decoy never has an earlier code): a stranger
    # learns nothing from when a code was sent.
    earlier = (
        verification.sent_at(user, step.purpose, code_policy())
        if step.earlier_code and not step.decoy
        else None
    )
    return render_template(
        "auth/verify_code.html",
        error=error,
        notice=notice,
        sent_ago=format_timedelta(earlier - clock.now(), add_direction=True) if earlier else None,
        address=mask_email(address),
        purpose=step.purpose,
        minutes=_auth().code_ttl // 60,
    )


@bp.route("/login/authenticator", methods=["GET", "POST"])
@throttle.by_address("codes")
def totp_step() -> Any:
    loaded = pending.load(pending.TOTP)
    if loaded is None:
        return start_again()
    step, user = loaded
    error = None
    use_recovery = request.values.get("method") == "recovery"
    if request.method == "POST" and _second_factor_locked(user):
        error = (
            _("Too many wrong codes. Wait 15 minutes, then try again, or use a recovery code.")
            if not use_recovery
            else _("Too many wrong codes. Wait 15 minutes, then try again.")
        )
    elif request.method == "POST":
        with transaction(DomainError) as tx:
            if use_recovery:
                totp.use_recovery_code(user, request.form.get("code") or "")
            else:
                totp.verify(user, request.form.get("code") or "")
            return signed_in(user, interactions.get(step.ix), step.next, [*step.amr, "otp", "mfa"])
        if tx.error is not None:
            with transaction():  # a second one on purpose: the failure is kept, the attempt not
                audit.record("sign_in.second_factor_failed", actor=user, ip=request.remote_addr)
            error = say(tx.error)
    return render_template(
        "auth/totp.html", error=error, use_recovery=use_recovery, has_totp=user.has_totp
    )


SECOND_FACTOR_WINDOW = timedelta(minutes=15)
SECOND_FACTOR_MAX_FAILURES = 5


def _second_factor_locked(user: User) -> bool:
    """Five wrong authenticator or recovery codes in 15 minutes pause further tries (counted
    on the server: the pending sign-in lives in a cookie an attacker could replay)."""
    since = clock.now() - SECOND_FACTOR_WINDOW
    return (
        audit.count_since("sign_in.second_factor_failed", user, since) >= SECOND_FACTOR_MAX_FAILURES
    )


def signed_in(
    user: User,
    interaction: ParkedRequest | None,
    next_url: str | None,
    amr: list[str],
    *,
    emailed_code: bool = False,
) -> Any:
    """Open (or, for the same user, refresh) the sign-in session and carry on. ``emailed_code``:
    an emailed code was entered too (the audit log says so; ``amr`` does not, see README).
    The caller's transaction commits the session before the response leaves."""
    ttl = _auth().session_ttl
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
    languages.remember_at_sign_in(user)
    mine = session.get(interactions.SESSION_KEY, [])
    session.clear()  # a sign-in starts a new browser session: new CSRF token, no fixation
    session[interactions.SESSION_KEY] = mine
    user.attach_session(auth_session)
    login_user(user)
    steps: dict[str, Any] = {"emailed_code": True} if emailed_code else {}
    audit.record("sign_in.succeeded", actor=user, ip=request.remote_addr, amr=amr, **steps)
    if interaction is not None:
        interactions.mark_signed_in(interaction, auth_session.sid)
    response: Any
    if interaction is not None:
        # Back to the authorization endpoint, which carries on with the parked request.
        response = redirect(url_for("oidc.resume", ix=interaction.id))
    else:
        response = redirect(next_url or url_for("home.index"))
    # This browser has now signed in to the account: it skips the new-device code, and a
    # stranger's wrong passwords no longer hold up its right one (idp.domain.throttling).
    devices.remember(response, user, _auth().device_cookie_ttl)
    return response
