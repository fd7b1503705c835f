"""Joining an organisation by consent.

An exams officer who adds an address that already has an account does not make that account a
member: the person is sent an *invitation to join*, sees it on their home page, and becomes a
member, with the roles offered, only by accepting it. Until then the organisation knows what
its officer typed (names, address, roles) and that an invitation was sent: never the account's
own name, its other organisations or its history. The officer can resend it (which renews it)
or withdraw it; the person can accept or decline it; unanswered, it lapses after
``auth.join_invitation_ttl`` seconds (14 days by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from idp import clock
from idp.catalogue import Catalogue
from idp.domain import audit, mailing, organisations
from idp.domain.mailing import Mail
from idp.errors import N_, InvalidInput, NotFound
from idp.extensions import db
from idp.models import (
    JoinInvitation,
    JoinOutcome,
    Membership,
    Organisation,
    RoleRow,
    User,
)
from idp.security import new_subject


def open_invitation(organisation: Organisation, user: User) -> JoinInvitation | None:
    """The organisation's unanswered invitation to ``user`` (lapsed or not), if any."""
    return db.session.scalar(
        select(JoinInvitation).where(
            JoinInvitation.organisation_id == organisation.id,
            JoinInvitation.user_id == user.id,
            JoinInvitation.outcome.is_(None),
        )
    )


def is_waiting(invitation: JoinInvitation) -> bool:
    """Whether the invitation can still be accepted."""
    return invitation.outcome is None and invitation.expires_at > clock.now()


def _role_rows(keys: Iterable[str]) -> list[RoleRow]:
    return list(db.session.scalars(select(RoleRow).where(RoleRow.key.in_(set(keys)))))


def invite(
    actor: User,
    organisation: Organisation,
    account: User,
    *,
    email: str,
    given_name: str,
    family_name: str,
    role_keys: Iterable[str],
    ttl_seconds: int,
    catalogue: Catalogue,
) -> JoinInvitation:
    """Invite ``account`` to join ``organisation`` with ``role_keys`` (already checked by the
    caller) and email it; a lapsed invitation to the same person is renewed in place."""
    now = clock.now()
    roles = _role_rows(role_keys)
    invitation = open_invitation(organisation, account)
    if invitation is None:
        invitation = JoinInvitation(
            public_id=new_subject(), organisation=organisation, user=account
        )
        invitation.created_at = now
        db.session.add(invitation)
    invitation.email = email
    invitation.given_name = given_name
    invitation.family_name = family_name
    invitation.invited_by = actor
    invitation.role_rows = roles
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(seconds=ttl_seconds)
    db.session.flush()
    audit.record(
        "user.invited",
        actor=actor,
        target_type="invitation",
        target_id=invitation.public_id,
        organisation_id=organisation.id,
        roles=sorted(invitation.role_keys),
        name=invitation.name,
    )
    _send(invitation, catalogue)
    return invitation


def _send(invitation: JoinInvitation, catalogue: Catalogue) -> None:
    account = invitation.user
    mailing.send(
        Mail(
            "join_invitation",
            invitation.email,
            {
                "name": account.name,
                "organisation": invitation.organisation.name,
                "code": invitation.organisation.code,
                "inviter": invitation.invited_by.name if invitation.invited_by else None,
                "roles": [
                    catalogue.roles_by_key[k].name
                    for k in sorted(invitation.role_keys)
                    if k in catalogue.roles_by_key
                ],
                "expires_at": invitation.expires_at,
                "brand": invitation.organisation.brand,
            },
            locale=account.locale,
        )
    )


# -- the organisation's side ---------------------------------------------------------------------


def _unanswered(public_id: str, whose: Any) -> JoinInvitation | None:
    """The unanswered invitation ``public_id`` that meets ``whose`` (its organisation, or its
    person)."""
    return db.session.scalar(
        select(JoinInvitation).where(
            JoinInvitation.public_id == public_id, whose, JoinInvitation.outcome.is_(None)
        )
    )


def unanswered(organisation: Organisation, public_id: str) -> JoinInvitation | None:
    """The organisation's unanswered invitation ``public_id``, if ``public_id`` is one."""
    return _unanswered(public_id, JoinInvitation.organisation_id == organisation.id)


def joined_as(organisation: Organisation, public_id: str) -> str | None:
    """The subject identifier of the member who accepted the organisation's invitation
    ``public_id``, while they are a member (an officer's old link to the invitation)."""
    return db.session.scalar(
        select(User.sub)
        .join(JoinInvitation, JoinInvitation.user_id == User.id)
        .join(
            Membership,
            (Membership.user_id == User.id)
            & (Membership.organisation_id == JoinInvitation.organisation_id),
        )
        .where(
            JoinInvitation.public_id == public_id,
            JoinInvitation.organisation_id == organisation.id,
            JoinInvitation.outcome == JoinOutcome.ACCEPTED,
        )
    )


def resend(
    actor: User, invitation: JoinInvitation, *, ttl_seconds: int, catalogue: Catalogue
) -> None:
    """Send the invitation again, open for another ``ttl_seconds``."""
    now = clock.now()
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(seconds=ttl_seconds)
    invitation.invited_by = actor
    audit.record(
        "user.invited",
        actor=actor,
        target_type="invitation",
        target_id=invitation.public_id,
        organisation_id=invitation.organisation_id,
        roles=sorted(invitation.role_keys),
        name=invitation.name,
    )
    _send(invitation, catalogue)


def set_offer(actor: User, invitation: JoinInvitation, role_keys: Iterable[str]) -> None:
    """Change the roles offered (already checked by the caller); the person accepts whatever
    is offered when they answer."""
    before = sorted(invitation.role_keys)
    invitation.role_rows = _role_rows(role_keys)
    db.session.flush()
    # The events a member's role change records (``management.change_roles``).
    changes: list[tuple[str, dict[str, Any]]] = [
        ("membership.roles_set", {"before": before, "after": sorted(invitation.role_keys)}),
        ("management.roles_changed", {}),
    ]
    for action, details in changes:
        audit.record(
            action,
            actor=actor,
            target_type="invitation",
            target_id=invitation.public_id,
            organisation_id=invitation.organisation_id,
            name=invitation.name,
            **details,
        )


def withdraw(actor: User, invitation: JoinInvitation) -> None:
    """End the invitation: it leaves the person's home page and can no longer be accepted."""
    invitation.outcome = JoinOutcome.WITHDRAWN
    invitation.answered_at = clock.now()
    audit.record(
        "management.invitation_withdrawn",
        actor=actor,
        target_type="invitation",
        target_id=invitation.public_id,
        organisation_id=invitation.organisation_id,
        name=invitation.name,
    )


# -- the person's side ---------------------------------------------------------------------------


def waiting_for(user: User) -> list[JoinInvitation]:
    """The invitations ``user`` can still accept, oldest first."""
    return list(
        db.session.scalars(
            select(JoinInvitation)
            .where(
                JoinInvitation.user_id == user.id,
                JoinInvitation.outcome.is_(None),
                JoinInvitation.expires_at > clock.now(),
            )
            .order_by(JoinInvitation.sent_at, JoinInvitation.id)
        )
    )


def _own(user: User, public_id: str) -> JoinInvitation:
    invitation = _unanswered(public_id, JoinInvitation.user_id == user.id)
    if invitation is None:
        raise NotFound(N_("This invitation has been answered or withdrawn."))
    if invitation.expires_at <= clock.now():
        raise InvalidInput(
            N_("This invitation has expired. Ask %(organisation)s to send you another."),
            organisation=invitation.organisation.name,
        )
    return invitation


def accept(user: User, public_id: str, catalogue: Catalogue) -> Membership:
    """Join the organisation with the roles offered that a centre may still grant (joined to
    any the person holds there already)."""
    invitation = _own(user, public_id)
    organisation = invitation.organisation
    grantable = {r.key for r in catalogue.brand_roles(organisation.brand) if r.grantable_by_centre}
    current = organisations.membership(user, organisation)
    keys = (invitation.role_keys & grantable) | (current.role_keys if current else set())
    membership = organisations.set_roles(user, organisation, keys, catalogue)
    if invitation.officer_nomination is not None:
        # The exam board named this person the centre's exams officer: the office is theirs
        # now that they agreed (``idp.domain.centres.name_exams_officer``).
        membership = organisations.hand_over_office(
            organisation,
            user,
            catalogue,
            previous_keeps_management=invitation.officer_nomination == "keep",
        )
    invitation.outcome = JoinOutcome.ACCEPTED
    invitation.answered_at = clock.now()
    audit.record(
        "membership.joined",
        actor=user,
        target_type="user",
        target_id=user.sub,
        organisation_id=organisation.id,
        roles=sorted(keys),
    )
    return membership


def decline(user: User, public_id: str) -> JoinInvitation:
    """Turn the invitation down. The organisation's log says that the invitation was declined,
    under the name its officer typed; the account stays unknown to it."""
    invitation = _own(user, public_id)
    invitation.outcome = JoinOutcome.DECLINED
    invitation.answered_at = clock.now()
    audit.record(
        "membership.join_declined",
        actor_label="invitee",
        target_type="invitation",
        target_id=invitation.public_id,
        organisation_id=invitation.organisation_id,
        name=invitation.name,
    )
    return invitation
