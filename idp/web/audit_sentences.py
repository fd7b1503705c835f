"""How a centre's audit log reads: one plain sentence per event, in the reader's language.

People by name ("a deleted account" once the account is gone), roles by their catalogue names,
sign-ins by how the person proved who they were; never an action key, a subject identifier or a
detail's raw value. An event of a kind without a sentence of its own reads as its label, by whom
and about whom (``tests/web/test_audit_sentences.py`` fails on an event a centre can see that has
neither).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import or_, select

from idp import languages
from idp.catalogue import Catalogue
from idp.extensions import db
from idp.models import JoinInvitation, User

# The event-type filter's choices: a prefix of the action, and its label.
KINDS = {
    "": _l("All events"),
    "sign_in.": _l("Sign-ins"),
    "management.": _l("Changes made in My Organisation"),
    "membership.": _l("Role changes"),
    "user.": _l("Account changes"),
}

# The short name of each kind of event (the log's "Event" column).
LABELS = {
    "sign_in.succeeded": _l("Signed in"),
    "sign_in.failed": _l("Sign-in failed"),
    "sign_in.throttled": _l("Sign-in refused"),
    "sign_in.second_factor_failed": _l("Wrong authenticator code"),
    "sign_in.passkey_refused": _l("Passkey refused"),
    "user.passkey_added": _l("Passkey added"),
    "user.passkey_renamed": _l("Passkey renamed"),
    "user.passkey_removed": _l("Passkey removed"),
    "user.created": _l("Account created"),
    "user.invited": _l("Invitation sent"),
    "user.activated": _l("Account activated"),
    "user.password_changed": _l("Password changed"),
    "user.password_reset_requested": _l("Password reset link sent"),
    "membership.roles_set": _l("Roles set"),
    "membership.moved": _l("Moved between organisations"),
    "management.roles_changed": _l("Roles changed"),
    "management.user_linked": _l("Existing account added"),
    "management.invitation_withdrawn": _l("Invitation withdrawn"),
    "membership.join_declined": _l("Invitation to join declined"),
    "membership.joined": _l("Joined by accepting an invitation"),
    "management.user_suspended": _l("Suspended"),
    "management.user_restored": _l("Restored"),
    "management.user_deleted": _l("Account deleted"),
    "management.data_transferred": _l("Data transferred"),
    "management.user_removed": _l("Removed from the organisation"),
    "management.password_reset_sent": _l("Password reset link sent by an officer"),
    "management.email_changed": _l("Email address changed"),
    "management.email_change_requested": _l("Change of email address asked"),
    "management.email_change_cancelled": _l("Change of email address cancelled"),
    "user.email_change_cancelled": _l("Change of email address cancelled by the person"),
    "management.import_started": _l("CSV import started"),
    "management.users_downloaded": _l("User list downloaded"),
    "organisation.created": _l("Organisation created"),
    "organisation.exams_officer_set": _l("Exams officer named"),
    "organisation.associate_of_set": _l("Associate link changed"),
    "session.organisation_changed": _l("Changed organisation"),
    # What the exam board's staff did in the console (idp.domain.staff.record), each with the
    # reason they gave (``Line.reason``).
    "staff.confirmed": _l("Console: confirmed with a passkey"),
    "staff.role_set": _l("Staff role set"),
    "staff.centre_created": _l("Console: centre created"),
    "staff.centre_renamed": _l("Console: centre renamed"),
    "staff.exams_officer_named": _l("Console: exams officer named"),
    "staff.associate_attached": _l("Console: associate centre attached"),
    "staff.associate_detached": _l("Console: associate centre detached"),
    "staff.invitation_resent": _l("Console: invitation sent again"),
    "staff.reset_link_sent": _l("Console: password reset link sent"),
    "staff.backoff_cleared": _l("Console: sign-in wait cleared"),
    "staff.sessions_ended": _l("Console: signed out everywhere"),
    "staff.factor_removed": _l("Console: sign-in factor removed"),
    "staff.account_suspended": _l("Console: account suspended"),
    "staff.account_restored": _l("Console: account restored"),
    "staff.audit_downloaded": _l("Console: audit log downloaded"),
    "staff.key_rotated": _l("Console: signing key rotated"),
    # What the console's audit log shows of the rest of the service.
    "client.api_access_changed": _l("Client application: API access changed"),
    "client.created": _l("Client application registered by an operator"),
    "client.deleted": _l("Client application deleted"),
    "client.disabled": _l("Client application disabled"),
    "client.enabled": _l("Client application enabled"),
    "client.id_token_alg_changed": _l("Client application: ID token signature changed"),
    "client.initiate_login_uri_changed": _l("Client application: sign-in address changed"),
    "client.registered": _l("Client application registered itself"),
    "client.registration_token_issued": _l("Client application: registration token issued"),
    "client.registration_updated": _l("Client application updated its registration"),
    "client.secret_rotated": _l("Client application: secret replaced"),
    "client.uris_changed": _l("Client application: addresses changed"),
    "client.user_data_uri_changed": _l("Client application: user data address changed"),
    "key.pruned": _l("Signing keys pruned"),
    "key.rotated": _l("Signing key rotated"),
    "user.account_connected": _l("Connected account added"),
    "user.account_disconnected": _l("Connected account removed"),
    "user.consent_revoked": _l("App access removed"),
    "user.data_downloaded": _l("Personal data downloaded"),
    "user.email_add_refused": _l("Email address refused"),
    "user.email_added": _l("Email address added"),
    "user.email_removed": _l("Email address removed"),
    "user.primary_email_changed": _l("Main email address changed"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.recovery_codes_replaced": _l("Recovery codes replaced"),
    "user.renamed": _l("Name changed"),
    "user.signed_out_everywhere": _l("Signed out everywhere"),
    "user.signup_refused": _l("Account creation refused"),
    "user.totp_disabled": _l("Authenticator app removed"),
    "user.totp_enabled": _l("Authenticator app added"),
}


@dataclass(frozen=True)
class Line:
    """One event as the page shows it."""

    at: datetime
    label: str
    sentence: str
    ip: str
    reason: str = ""  # why a member of staff did it (console actions), as they wrote it


@dataclass(frozen=True)
class Event:
    """What a sentence is made of: the row, and its people and roles in words."""

    row: Any
    actor: str  # a name, "a deleted account", "someone" or "an operator"
    target: str  # a person's name or "a deleted account" (people only), else ""
    details: dict[str, Any]
    people: dict[str, str]  # subject identifier -> name, for subjects named in details
    role_names: dict[str, str]

    @property
    def by_operator(self) -> bool:
        return not self.row.actor_user_id and self.row.actor in ("", "system")

    def person(self, sub: Any) -> str:
        return self.people.get(str(sub or "")) or _("a deleted account")

    def roles(self, key: str) -> str:
        """The roles listed in detail ``key``, by name: "Submit for Assessment: Teacher, User
        Management"."""
        keys = self.details.get(key)
        if not isinstance(keys, list) or not keys:
            return _("no roles")
        gone = _("a role no longer offered")
        return ", ".join(sorted(self.role_names.get(str(k), gone) for k in keys))

    def text(self, key: str) -> str:
        value = self.details.get(key)
        return value if isinstance(value, str) else ""

    def count(self, key: str) -> int:
        value = self.details.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- sign-ins: the person's own events -----------------------------------------------------------


def _signed_in(e: Event) -> str:
    listed = e.details.get("amr")
    amr: list[Any] = listed if isinstance(listed, list) else []
    code, person = bool(e.details.get("emailed_code")), e.actor
    if "fed" in amr:
        if "otp" in amr:
            return _(
                "%(person)s signed in with a connected account and authenticator app.",
                person=person,
            )
        if code:
            return _(
                "%(person)s signed in with a connected account and emailed code.", person=person
            )
        return _("%(person)s signed in with a connected account.", person=person)
    passkey = bool({"hwk", "swk"} & set(amr))
    if passkey and "pwd" in amr:
        return _("%(person)s signed in with password and passkey.", person=person)
    if passkey:
        return _("%(person)s signed in with a passkey.", person=person)
    if "pwd" in amr:
        if "otp" in amr:
            return _("%(person)s signed in with password and authenticator app.", person=person)
        if code:
            return _("%(person)s signed in with password and emailed code.", person=person)
        return _("%(person)s signed in with password.", person=person)
    return _("%(person)s signed in.", person=person)


def _sign_in_failed(e: Event) -> str:
    reason, person = e.text("reason"), e.actor
    if reason == "TemporaryPasswordExpired":
        return _(
            "Someone tried to sign in as %(person)s with an expired temporary password.",
            person=person,
        )
    if reason == "current_password":
        return _(
            "A wrong password was entered to confirm a change while signed in as %(person)s.",
            person=person,
        )
    if reason == "not_active":
        return _(
            "Someone tried to sign in as %(person)s with a connected account, which cannot be"
            " used to sign in.",
            person=person,
        )
    return _("Someone tried to sign in as %(person)s with a wrong password.", person=person)


def _sign_in_throttled(e: Event) -> str:
    return _(
        "A sign-in as %(person)s was refused: after several wrong passwords the account waits"
        " a while before it accepts one.",
        person=e.actor,
    )


def _second_factor_failed(e: Event) -> str:
    return _(
        "A wrong authenticator code was entered while signing in as %(person)s.", person=e.actor
    )


def _passkey_refused(e: Event) -> str:
    if e.text("reason") == "PasskeyCloned":
        return _(
            "A sign-in as %(person)s with a passkey was refused: the passkey looks like a copy"
            " of another (its counter went backwards).",
            person=e.actor,
        )
    if e.row.actor == "unknown":
        return _("A sign-in with a passkey this service does not know was refused.")
    return _("A sign-in as %(person)s with a passkey was refused.", person=e.actor)


# -- memberships and roles ------------------------------------------------------------------------


def _invited(e: Event) -> str:
    """An invitation from My Organisation, to a new address or to an account that has one:
    the same words either way (``management.add``)."""
    if "roles" in e.details and not e.by_operator:
        return _(
            "%(actor)s invited %(person)s, with the roles: %(roles)s.",
            actor=e.actor,
            person=e.target,
            roles=e.roles("roles"),
        )
    if e.by_operator:
        return _("%(person)s was sent an invitation with a temporary password.", person=e.target)
    return _(
        "%(actor)s sent %(person)s an invitation with a temporary password.",
        actor=e.actor,
        person=e.target,
    )


def _roles_set(e: Event) -> str:
    return _(
        "The roles of %(person)s are now: %(after)s. Before: %(before)s.",
        person=e.target,
        after=e.roles("after"),
        before=e.roles("before"),
    )


def _moved(e: Event) -> str:
    return _(
        "%(person)s was moved from %(source)s to %(destination)s with the roles: %(roles)s.",
        person=e.target,
        source=e.text("source"),
        destination=e.text("target"),
        roles=e.roles("roles"),
    )


def _roles_changed(e: Event) -> str:
    return _("%(actor)s changed the roles of %(person)s.", actor=e.actor, person=e.target)


def _linked(e: Event) -> str:
    return _(
        "%(actor)s added the existing account of %(person)s with the roles: %(roles)s.",
        actor=e.actor,
        person=e.target,
        roles=e.roles("roles"),
    )


def _invitation_withdrawn(e: Event) -> str:
    return _(
        "%(actor)s withdrew the invitation to %(person)s.",
        actor=e.actor,
        person=e.text("name") or e.target,
    )


def _join_declined(e: Event) -> str:
    return _("%(person)s declined the invitation to join.", person=e.target)


def _joined(e: Event) -> str:
    return _(
        "%(person)s accepted the invitation and joined, with the roles: %(roles)s.",
        person=e.target,
        roles=e.roles("roles"),
    )


# -- My Organisation's other actions -----------------------------------------------------------


def _suspended(e: Event) -> str:
    return _("%(actor)s suspended %(person)s.", actor=e.actor, person=e.target)


def _restored(e: Event) -> str:
    return _("%(actor)s restored %(person)s.", actor=e.actor, person=e.target)


def _deleted(e: Event) -> str:
    return _(
        "%(actor)s deleted an account. Its roles here were: %(roles)s.",
        actor=e.actor,
        roles=e.roles("before"),
    )


def _removed(e: Event) -> str:
    return _(
        "%(actor)s removed %(person)s from the organisation. Their roles here were: %(roles)s.",
        actor=e.actor,
        person=e.target,
        roles=e.roles("before"),
    )


def _transferred(e: Event) -> str:
    return _(
        "%(service)s transferred the data of %(person)s to %(recipient)s, as %(actor)s asked.",
        service=e.text("service") or _("A service"),
        person=e.target,
        recipient=e.person(e.details.get("to")),
        actor=e.actor,
    )


def _reset_sent(e: Event) -> str:
    return _(
        "%(actor)s sent %(person)s a link to reset their password.",
        actor=e.actor,
        person=e.target,
    )


def _email_changed(e: Event) -> str:
    return _(
        "%(actor)s changed the email address of %(person)s from %(before)s to %(after)s.",
        actor=e.actor,
        person=e.target,
        before=e.text("before"),
        after=e.text("after"),
    )


def _email_change_requested(e: Event) -> str:
    return _(
        "%(actor)s asked to change the email address of %(person)s to %(after)s: it changes"
        " when the link sent there is used.",
        actor=e.actor,
        person=e.target,
        after=e.text("after"),
    )


def _email_change_cancelled(e: Event) -> str:
    return _(
        "%(actor)s cancelled the change of email address of %(person)s.",
        actor=e.actor,
        person=e.target,
    )


def _own_email_change_cancelled(e: Event) -> str:
    return _("%(person)s cancelled the change of their email address.", person=e.target)


def _import_started(e: Event) -> str:
    return ngettext(
        "%(actor)s started a CSV import of %(num)d person.",
        "%(actor)s started a CSV import of %(num)d people.",
        e.count("people"),
        actor=e.actor,
    )


def _downloaded(e: Event) -> str:
    return ngettext(
        "%(actor)s downloaded the user list (%(num)d person).",
        "%(actor)s downloaded the user list (%(num)d people).",
        e.count("people"),
        actor=e.actor,
    )


# -- the organisation ---------------------------------------------------------------------------


def _created(e: Event) -> str:
    parent = e.text("associate_of")
    if parent:
        return _(
            "The organisation was created, as an associate centre of %(parent)s.", parent=parent
        )
    return _("The organisation was created.")


def _officer_named(e: Event) -> str:
    return _("%(person)s was named the exams officer.", person=e.person(e.details.get("user")))


def _associate_of_set(e: Event) -> str:
    before, after = e.text("before"), e.text("after")
    if before and after:
        return _(
            "The organisation moved from the Cambridge Associate %(before)s to %(after)s.",
            before=before,
            after=after,
        )
    if after:
        return _("The organisation became an associate centre of %(after)s.", after=after)
    return _("The organisation is no longer an associate centre of %(before)s.", before=before)


def _acting_for(e: Event) -> str:
    return _("%(actor)s chose to act for this organisation.", actor=e.actor)


SENTENCES: dict[str, Callable[[Event], str]] = {
    "sign_in.succeeded": _signed_in,
    "sign_in.failed": _sign_in_failed,
    "sign_in.throttled": _sign_in_throttled,
    "sign_in.second_factor_failed": _second_factor_failed,
    "sign_in.passkey_refused": _passkey_refused,
    "user.invited": _invited,
    "membership.roles_set": _roles_set,
    "membership.moved": _moved,
    "management.roles_changed": _roles_changed,
    "management.user_linked": _linked,
    "management.invitation_withdrawn": _invitation_withdrawn,
    "membership.join_declined": _join_declined,
    "membership.joined": _joined,
    "management.user_suspended": _suspended,
    "management.user_restored": _restored,
    "management.user_deleted": _deleted,
    "management.user_removed": _removed,
    "management.data_transferred": _transferred,
    "management.password_reset_sent": _reset_sent,
    "management.email_changed": _email_changed,
    "management.email_change_requested": _email_change_requested,
    "management.email_change_cancelled": _email_change_cancelled,
    "user.email_change_cancelled": _own_email_change_cancelled,
    "management.import_started": _import_started,
    "management.users_downloaded": _downloaded,
    "organisation.created": _created,
    "organisation.exams_officer_set": _officer_named,
    "organisation.associate_of_set": _associate_of_set,
    "session.organisation_changed": _acting_for,
}


def _by_staff(e: Event) -> str:
    """What the exam board's staff did in the console, by whom (and to whom)."""
    event = str(LABELS.get(e.row.action, _("Other event")))
    if e.target:
        return _(
            "%(event)s: by %(actor)s, of the exam board's staff, about %(person)s.",
            event=event,
            actor=e.actor,
            person=e.target,
        )
    return _("%(event)s: by %(actor)s, of the exam board's staff.", event=event, actor=e.actor)


# Every console action reads the same way: its label, the member of staff, the person.
SENTENCES.update({action: _by_staff for action in LABELS if action.startswith("staff.")})


def _officer_named_by_staff(e: Event) -> str:
    return _(
        "%(actor)s, of the exam board's staff, named %(person)s the exams officer.",
        actor=e.actor,
        person=e.person(e.details.get("officer")),
    )


SENTENCES["staff.exams_officer_named"] = _officer_named_by_staff


def _fallback(e: Event, label: str) -> str:
    """An event without a sentence of its own: its label, by whom, about whom."""
    actor = "" if e.by_operator else e.actor
    if actor and e.target:
        return _(
            "%(event)s: by %(actor)s, about %(person)s.", event=label, actor=actor, person=e.target
        )
    if actor:
        return _("%(event)s: by %(actor)s.", event=label, actor=actor)
    if e.target:
        return _("%(event)s: about %(person)s.", event=label, person=e.target)
    return _("%(event)s.", event=label)


def describe(rows: Iterable[Any], catalogue: Catalogue) -> list[Line]:
    """The page's lines for ``rows`` (audit events), with every person named by one query."""
    rows = list(rows)
    ids = {r.actor_user_id for r in rows if r.actor_user_id}
    subs = {r.target_id for r in rows if r.target_type == "user" and r.target_id}
    for r in rows:
        for key in ("to", "user", "officer"):
            value = (r.details or {}).get(key)
            if isinstance(value, str) and value:
                subs.add(value)
    found = list(
        db.session.scalars(select(User).where(or_(User.id.in_(ids), User.sub.in_(subs))))
        if ids or subs
        else []
    )
    by_id = {u.id: u.name for u in found}
    by_sub = {u.sub: u.name for u in found}
    # An invitation to join is named as its officer typed it: never the account's own name.
    invited = {r.target_id for r in rows if r.target_type == "invitation" and r.target_id}
    typed = (
        {
            i.public_id: i.name
            for i in db.session.scalars(
                select(JoinInvitation).where(JoinInvitation.public_id.in_(invited))
            )
        }
        if invited
        else {}
    )
    role_names = {r.key: languages.words(r.name) for r in catalogue.roles}
    lines = []
    for r in rows:
        event = Event(
            row=r,
            actor=_actor(r, by_id),
            target=_target(r, by_sub, typed, r.details if isinstance(r.details, dict) else {}),
            details=r.details if isinstance(r.details, dict) else {},
            people=by_sub,
            role_names=role_names,
        )
        label = str(LABELS.get(r.action, _("Other event")))
        sentence = SENTENCES.get(r.action)
        text = sentence(event) if sentence else _fallback(event, label)
        reason = event.text("reason") if r.action.startswith("staff.") else ""
        lines.append(
            Line(at=r.at, label=label, sentence=_capitalised(text), ip=r.ip or "", reason=reason)
        )
    return lines


def _target(
    row: Any, by_sub: dict[str, str], typed: dict[str, str], details: dict[str, Any]
) -> str:
    if row.target_type == "user":
        return by_sub.get(row.target_id) or _("a deleted account")
    if row.target_type == "invitation":
        # The typed name, from the invitation or, once it is purged, from the event.
        name = details.get("name")
        return (
            typed.get(row.target_id)
            or (name if isinstance(name, str) and name else "")
            or _("someone invited")
        )
    return ""


def _capitalised(sentence: str) -> str:
    """A sentence that starts with "a deleted account", "someone"... starts with a capital (a
    person's name is left as they wrote it)."""
    for phrase in (_("a deleted account"), _("someone"), _("an operator")):
        if sentence.startswith(phrase):
            return sentence[:1].upper() + sentence[1:]
    return sentence


def _actor(row: Any, names: dict[int, str]) -> str:
    if row.actor_user_id:
        return names.get(row.actor_user_id) or _("a deleted account")
    if row.actor == "unknown":
        return _("someone")
    if row.actor in ("", "system"):
        return _("an operator")  # the command line, or the provider itself
    return _("a deleted account")  # the subject identifier of an account since deleted
