"""The console's People: find a person (by an address, exactly, or by name within a centre),
see their account (``domain.people.profile``), and help them (``domain.support``).

Every action asks first: its page says what will happen and asks why (the reason is kept with
the record of it); nothing changes until that page's form is sent with ``confirm=yes`` and a
reason. Removing a sign-in factor also asks how the agent checked who is calling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from idp.domain import passkeys, people, support
from idp.domain.audit import Position
from idp.errors import DomainError
from idp.extensions import db
from idp.languages import say
from idp.models import Organisation, User
from idp.web import audit_sentences
from idp.web.console import people_events
from idp.web.console.blueprint import add_section, bp
from idp.web.device_names import signed_in_devices
from idp.web.transaction import transaction

add_section("console.people", _l("People"), "people")
people_events.register()


def _settings() -> Any:
    return current_app.extensions["idp.settings"]


def _person(sub: str) -> User:
    user = people.find_by_sub(sub)
    if user is None:
        abort(404)
    return user


@bp.get("/people", endpoint="people")
def people_search() -> Any:
    """Search: an address (exact), or a name within one centre (its centre number)."""
    address = request.args.get("address", "").strip()[:320]
    name = request.args.get("name", "").strip()[:200]
    centre = request.args.get("centre", "").strip().upper()[:20]
    error = None
    rows: list[Any] = []
    org = None
    if address:
        found = people.find_by_address(address)
        if found is not None:
            return redirect(url_for("console.person", sub=found.sub))
        error = _("No account has this address.")
    elif name or centre:
        org = db.session.scalar(select(Organisation).where(Organisation.code == centre))
        if not centre:
            error = _("Enter the centre number too: a name is looked for within one centre.")
        elif org is None:
            error = _("No centre has this number.")
        elif not name:
            error = _("Enter a name to search for.")
        else:
            rows = people.search_in_centre(org, name)
            if not rows:
                error = _("Nobody at %(centre)s matches this name.", centre=org.code)
    return render_template(
        "console/people.html",
        address=address,
        name=name,
        centre=centre,
        org=org,
        rows=rows,
        error=error,
    )


@bp.get("/people/<sub>")
def person(sub: str) -> Any:
    """The person's page: their account as the desk may see it, and the actions."""
    user = _person(sub)
    settings = _settings()
    found = people.profile(
        user,
        settings.catalogue,
        idle_ttl=settings.auth.session_idle_ttl,
        before=Position.parse(request.args.get("before", "")),
    )
    older = found.events.older
    return render_template(
        "console/person.html",
        user=user,
        profile=found,
        devices=signed_in_devices(found.sessions, ""),
        lines=audit_sentences.describe(found.events.rows, settings.catalogue),
        older=url_for("console.person", sub=sub, before=older.token()) if older else None,
        may_act=_may_act(user),
    )


def _may_act(user: User) -> str | None:
    """Why the signed-in agent may not act on ``user``, or None."""
    try:
        support.check_may_act(current_user, user)
    except DomainError as exc:
        return say(exc)
    return None


@dataclass(frozen=True)
class Action:
    title: Any
    consequences: tuple[Any, ...]
    yes: Any
    done: Any
    warning: bool = False


ACTIONS: dict[str, Action] = {
    "resend-invitation": Action(
        _l("Resend the invitation to %(name)s?"),
        (
            _l("A new temporary password is emailed to %(address)s."),
            _l("The temporary password sent before stops working."),
        ),
        _l("Yes, resend the invitation"),
        _l("The invitation has been sent again to %(address)s."),
    ),
    "reset-link": Action(
        _l("Send %(name)s a password reset link?"),
        (
            _l("A link to choose a new password is emailed to %(address)s."),
            _l("You will not see the link. Nothing changes until the person uses it."),
        ),
        _l("Yes, send the link"),
        _l("A password reset link has been sent to %(address)s."),
    ),
    "clear-backoff": Action(
        _l("Let %(name)s try their password again now?"),
        (
            _l("Wrong passwords typed until now no longer make the next sign-in wait."),
            _l("Wrong passwords typed after this count again as usual."),
        ),
        _l("Yes, clear the wait"),
        _l("%(name)s can try their password again now."),
    ),
    "end-sessions": Action(
        _l("Sign %(name)s out everywhere?"),
        (
            _l("Every browser and device where %(name)s is signed in is signed out."),
            _l("The services they use are told, and must ask them to sign in again."),
        ),
        _l("Yes, sign them out everywhere"),
        _l("%(name)s has been signed out everywhere."),
        warning=True,
    ),
    "remove-factor": Action(
        _l("Remove %(factor)s from the account of %(name)s?"),
        (
            _l("It can no longer be used to sign in to this account."),
            _l("%(name)s is told by email at %(address)s."),
        ),
        _l("Yes, remove it"),
        _l("%(factor)s has been removed from the account of %(name)s."),
        warning=True,
    ),
    "suspend": Action(
        _l("Suspend the whole account of %(name)s?"),
        (
            _l("%(name)s is signed out everywhere and cannot sign in, at any centre."),
            _l("Their centres and roles stay as they are, ready for when it is restored."),
        ),
        _l("Yes, suspend the account"),
        _l("The account of %(name)s has been suspended."),
        warning=True,
    ),
    "restore": Action(
        _l("Restore the account of %(name)s?"),
        (_l("%(name)s can sign in again, with the centres and roles they held."),),
        _l("Yes, restore the account"),
        _l("The account of %(name)s has been restored."),
    ),
}
IDENTITY_CHECKS = {
    "called_back": _l("I called them back on the centre's phone number"),
    "officer_confirmed": _l("The centre's exams officer confirmed who they are"),
    "video_with_id": _l("I saw them with photo ID on a video call"),
}


def _factor_words(user: User, factor: str, passkey_id: int | None) -> str | None:
    if factor == "totp" and user.has_totp:
        return _("the authenticator app (and its recovery codes)")
    if factor == "recovery_codes":
        return _("the recovery codes")
    if factor == "passkey" and passkey_id is not None:
        found = passkeys.find(user, passkey_id)
        if found is not None:
            return _('the passkey "%(name)s"', name=found.name)
    return None


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


def _ask(user: User, action: str, errors: list[tuple[str, str]], status: int = 200) -> Any:
    spec = ACTIONS[action]
    factor = request.values.get("factor", "")
    passkey_id = _number(request.values.get("passkey", ""))
    words = {"name": user.name, "address": user.email or "", "factor": ""}
    if action == "remove-factor":
        found = _factor_words(user, factor, passkey_id)
        if found is None:
            abort(404)
        words["factor"] = found
    hidden = {"factor": factor, "passkey": str(passkey_id)} if action == "remove-factor" else {}
    return render_template(
        "console/person_confirm.html",
        user=user,
        action=action,
        title=str(spec.title) % words,
        consequences=[str(c) % words for c in spec.consequences],
        yes=str(spec.yes),
        warning=spec.warning,
        hidden=hidden,
        checks=IDENTITY_CHECKS if action == "remove-factor" else None,
        chosen_check=request.form.get("identity_check", ""),
        reason=request.form.get("reason", ""),
        errors=errors,
    ), status


def _act(user: User, action: str) -> Any:
    reason = request.form.get("reason", "")
    settings = _settings()
    if action == "resend-invitation":
        support.resend_invitation(
            current_user, user, reason=reason, ttl_seconds=settings.auth.temporary_password_ttl
        )
    elif action == "reset-link":
        support.send_reset_link(
            current_user, user, reason=reason, minutes=settings.auth.password_reset_ttl // 60
        )
    elif action == "clear-backoff":
        support.clear_backoff(current_user, user, reason=reason)
    elif action == "end-sessions":
        support.end_sessions(current_user, user, reason=reason)
    elif action == "remove-factor":
        support.remove_factor(
            current_user,
            user,
            request.form.get("factor", ""),
            reason=reason,
            identity_check=request.form.get("identity_check", ""),
            passkey_id=_number(request.form.get("passkey", "")),
        )
    elif action == "suspend":
        support.suspend_account(current_user, user, reason=reason)
    else:
        support.restore_account(current_user, user, reason=reason)


ACTION_NAMES = ", ".join(f'"{name}"' for name in ACTIONS)


@bp.route(f"/people/<sub>/<any({ACTION_NAMES}):action>", methods=["GET", "POST"])
def person_action(sub: str, action: str) -> Any:
    """The question before an action (GET, or a POST without ``confirm=yes``), and the action
    once it is answered with a reason."""
    user = _person(sub)
    refusal = _may_act(user)
    if refusal is not None:
        flash(refusal, "warning")
        return redirect(url_for("console.person", sub=sub))
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return _ask(user, action, [])
    words = {"name": user.name, "address": user.email or "", "factor": ""}
    if action == "remove-factor":
        words["factor"] = (
            _factor_words(
                user, request.form.get("factor", ""), _number(request.form.get("passkey", ""))
            )
            or ""
        )
    with transaction(DomainError) as tx:
        _act(user, action)
    if tx.error is not None:
        field = getattr(tx.error, "field", None) or ""
        return _ask(user, action, [(field, say(tx.error))], 400)
    done = str(ACTIONS[action].done) % words
    flash(done[:1].upper() + done[1:], "success")
    return redirect(url_for("console.person", sub=sub))
