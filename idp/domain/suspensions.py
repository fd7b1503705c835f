"""Suspending and restoring people in My Organisation.

A suspension reaches as far as the actor's say does, and no further:

* someone who belongs only to organisations the actor manages is suspended as an **account**:
  signed out everywhere, every token revoked, no sign-in until restored;
* someone who also belongs to an organisation the actor does not manage (or who is another
  organisation's named exams officer) is suspended at **this organisation** only: their
  membership holds no roles here (claims, home tiles, My Organisation), the tokens that speak
  for this organisation are revoked, and their account and other organisations are untouched.

An organisation's named exams officer is not suspended from here (``idp.domain.office``).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select

from idp import clock
from idp.catalogue import Catalogue
from idp.domain import passwords, tokens
from idp.domain.management import (
    _audit,
    _keep_a_manager,
    _not_self,
    _outside,
    _status_after_suspension,
    member,
)
from idp.domain.office import protect_exams_officer
from idp.errors import N_, InvalidInput, PermissionDenied
from idp.extensions import db
from idp.models import Organisation, User, UserStatus

Scope = Literal["account", "membership"]


def _officer_elsewhere(target: User, org: Organisation) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.exams_officer_id == target.id, Organisation.id != org.id)
        )
    )


def scope(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> Scope:
    """How far suspending ``target`` from ``org`` would reach: their whole account when every
    organisation they belong to is one ``actor`` manages (and none names them its exams
    officer), else only their membership of ``org``."""
    if _outside(target, actor, catalogue) or _officer_elsewhere(target, org):
        return "membership"
    return "account"


def suspended_here(org: Organisation, target: User) -> Scope | None:
    """What suspends ``target`` as seen from ``org``: their membership, their account, or
    nothing."""
    _, membership = member(org, target.sub)
    if membership.is_suspended:
        return "membership"
    if target.status == UserStatus.SUSPENDED:
        return "account"
    return None


def check_suspendable(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> Scope:
    """The scope ``suspend`` would have, or the refusal it would raise; writes nothing."""
    _not_self(actor, target, "suspend")
    if suspended_here(org, target) is not None:
        raise InvalidInput(N_("This person is already suspended."))
    protect_exams_officer(org, target, "suspend")
    reach = scope(actor, org, target, catalogue)
    if reach == "account":
        for m in target.memberships:
            _keep_a_manager(m.organisation, target, catalogue, True)
    else:
        _keep_a_manager(org, target, catalogue, True)
    return reach


def suspend(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> Scope:
    """Suspend ``target`` as far as ``scope`` says, at once. An account: sessions end and every
    token is revoked (the services are told by back-channel logout). A membership: the tokens
    that speak for ``org`` are revoked; sessions, and the rest, stay."""
    reach = check_suspendable(actor, org, target, catalogue)
    if reach == "account":
        before = target.status
        target.status = UserStatus.SUSPENDED
        passwords.sign_out_everywhere(target)
        _audit("management.user_suspended", actor, org, target, before=before, after=target.status)
    else:
        _, membership = member(org, target.sub)
        membership.suspended_at = clock.now()
        tokens.revoke_for_organisation(target.id, org.id)
        _audit("management.user_suspended", actor, org, target, scope="membership")
    db.session.flush()
    return reach


def check_restorable(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> Scope:
    """What ``restore`` would lift, or the refusal it would raise; writes nothing. An account
    is restored only by someone who could have suspended it: one belonging to an organisation
    the actor does not manage is not theirs to restore."""
    _not_self(actor, target, "restore")
    found = suspended_here(org, target)
    if found is None:
        raise InvalidInput(N_("This person is not suspended."))
    if found == "account" and _outside(target, actor, catalogue):
        raise PermissionDenied(
            N_(
                "This person also belongs to an organisation you do not manage, so their account"
                " cannot be restored from here."
            )
        )
    return found


def restore(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> Scope:
    """Lift the suspension ``check_restorable`` finds."""
    found = check_restorable(actor, org, target, catalogue)
    if found == "membership":
        _, membership = member(org, target.sub)
        membership.suspended_at = None
        _audit("management.user_restored", actor, org, target, scope="membership")
        db.session.flush()
        return found
    # Back to active only for an account that was activated; one that never entered its emailed
    # code (invited, or a self sign-up) goes back to waiting for it.
    target.status = _status_after_suspension(target)
    _audit("management.user_restored", actor, org, target, after=target.status)
    return found
