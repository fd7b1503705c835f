"""My Organisation: what an exams officer (a holder of *User Management*) may do to the accounts
of the organisations they manage, and nothing else.

Every function takes the acting user and checks, here and not in a template, that:

* the organisation is one the actor manages: one where they hold User Management, or an
  associate centre of such an organisation (a Cambridge Associate's officer manages its
  centres); any other organisation is ``NotFound``, so a guessed code or id reveals nothing;
* the target user is a member of that organisation (else ``NotFound``);
* nobody changes their own roles (adding their own address elsewhere included) or suspends or
  deletes themselves;
* nobody changes the address of someone who holds User Management or an officer-only role
  (``holds_office``): that person changes it themselves, on Account > Personal info;
* nobody suspends, restores or changes the address of someone who also belongs to an
  organisation the actor does not manage;
* the organisation keeps at least one active holder of User Management;
* roles come from the organisation's brand and are grantable by a centre: Global Listening
  and the like go with the exams officer alone (``idp orgs set-exams-officer``).

A refused action raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select

from idp import clock
from idp.catalogue import Catalogue, Role
from idp.domain import (
    address_changes,
    audit,
    invitations,
    joining,
    office,
    organisations,
    passwords,
    tokens,
    users,
)
from idp.errors import N_, InvalidInput, LinkInvalid, NotFound, PermissionDenied, Text
from idp.extensions import db
from idp.models import (
    AddressChange,
    JoinInvitation,
    Membership,
    Organisation,
    User,
    UserOrigin,
    UserStatus,
    membership_roles,
)


@dataclass(frozen=True)
class ManagementSettings:
    """What the rules need from configuration: the catalogue, and how long a temporary
    password, a reset link, an invitation to join and a change of address last."""

    catalogue: Catalogue
    temporary_password_ttl: int
    password_reset_minutes: int
    join_invitation_ttl: int = 14 * 24 * 3600
    address_change_ttl: int = 3 * 24 * 3600


# -- which organisations ----------------------------------------------------------------------


def manageable(actor: User, catalogue: Catalogue) -> list[Organisation]:
    """The organisations ``actor`` may manage, by centre number."""
    held = [
        m.organisation
        for m in actor.memberships
        if catalogue.management_role(m.organisation.brand) in m.held_role_keys
        and actor.status == UserStatus.ACTIVE
    ]
    if not held:
        return []
    ids = {o.id for o in held}
    associates = db.session.scalars(
        select(Organisation).where(Organisation.parent_id.in_(ids))
    ).all()
    found = {o.id: o for o in [*held, *associates]}
    return sorted(found.values(), key=lambda o: o.code)


def member(org: Organisation, sub: str) -> tuple[User, Membership]:
    """A member of ``org`` by their subject identifier, else NotFound."""
    row = db.session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(User.sub == sub, Membership.organisation_id == org.id)
    ).first()
    if row is None:
        raise NotFound(N_("There is no such user in this organisation."))
    return row.User, row.Membership


# -- roles --------------------------------------------------------------------------------------


def grantable_roles(org: Organisation, catalogue: Catalogue) -> list[Role]:
    """The roles offered on the add-user and view-user pages, in catalogue order."""
    return [r for r in catalogue.brand_roles(org.brand) if r.grantable_by_centre]


def _checked_roles(org: Organisation, keys: Iterable[str], catalogue: Catalogue) -> set[str]:
    wanted = set(keys)
    offered = {r.key for r in grantable_roles(org, catalogue)}
    officer_only = catalogue.officer_only_roles(org.brand)
    if wanted & officer_only:
        names = ", ".join(sorted(catalogue.roles_by_key[k].name for k in wanted & officer_only))
        raise PermissionDenied(
            N_("%(roles)s cannot be given from here: it goes with the centre's exams officer."),
            roles=names,
        )
    unknown = wanted - offered
    if unknown:
        raise InvalidInput(
            N_("The role %(role)s is not offered to this organisation."),
            role=repr(sorted(unknown)[0]),
        )
    if not wanted:
        raise InvalidInput(N_("Select one or more roles."))
    return wanted


def _holders_of_management(org: Organisation, catalogue: Catalogue) -> set[int]:
    key = catalogue.management_role(org.brand)
    return set(
        db.session.scalars(
            select(Membership.user_id)
            .join(membership_roles, membership_roles.c.membership_id == Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.organisation_id == org.id,
                Membership.suspended_at.is_(None),
                membership_roles.c.role_key == key,
                User.status == UserStatus.ACTIVE,
            )
        )
    )


def _keep_a_manager(org: Organisation, target: User, catalogue: Catalogue, losing: bool) -> None:
    if losing and _holders_of_management(org, catalogue) == {target.id}:
        raise PermissionDenied(
            N_(
                "This is the last person with User Management at this organisation."
                " Give the role to someone else first."
            )
        )


def _audit(action: str, actor: User, org: Organisation, target: User, **details: Any) -> None:
    """An event of My Organisation: who did it, where, to whom."""
    audit.record(
        action,
        actor=actor,
        target_type="user",
        target_id=target.sub,
        organisation_id=org.id,
        **details,
    )


NOT_SELF = {
    "change the roles of": N_(
        "You cannot change your own roles. Ask another person with User Management."
    ),
    "suspend": N_("You cannot suspend yourself. Ask another person with User Management."),
    "restore": N_("You cannot restore yourself. Ask another person with User Management."),
    "delete": N_("You cannot delete yourself. Ask another person with User Management."),
    "change the email address of": N_(
        "You cannot change your own email address here: do it on Account > Personal info."
    ),
}


def _not_self(actor: User, target: User, what: str) -> None:
    if actor.id == target.id:
        raise PermissionDenied(NOT_SELF[what])


def change_roles(
    actor: User, org: Organisation, target: User, keys: Iterable[str], catalogue: Catalogue
) -> Membership:
    """Replace the target's grantable roles at ``org``; officer-only roles they hold stay."""
    _not_self(actor, target, "change the roles of")
    wanted = _checked_roles(org, keys, catalogue)
    _, current = member(org, target.sub)
    kept = current.role_keys & catalogue.officer_only_roles(org.brand)
    management = catalogue.management_role(org.brand)
    losing = management in current.role_keys and management not in wanted
    if losing:
        office.protect_exams_officer(org, target, "take User Management from")
    _keep_a_manager(org, target, catalogue, losing)
    result = organisations.set_roles(target, org, wanted | kept, catalogue)
    _audit("management.roles_changed", actor, org, target)
    return result


# -- adding people ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What adding one person did (or, in a preview, would do).

    ``invited`` covers both a new address (an account with a temporary password) and an
    address that already has an account (an invitation to join): the officer is told the same
    either way. ``sub`` addresses the person on the officer's pages: the new member's subject
    identifier, or the invitation's public id, which has the same shape."""

    email: str
    name: str
    kind: Literal["invited", "already_member", "error"]
    message: str | Text = ""  # translated where it is shown
    sub: str = ""


ALREADY_INVITED = N_("Already invited to this organisation.")


def check_new(actor: User, org: Organisation, person: NewUser, catalogue: Catalogue) -> Outcome:
    """What ``add`` would do with this person, without writing anything.

    The outcome carries the name typed for the row, and says the same whether or not the
    address already has an account (anywhere, suspended or not): an organisation learns
    nothing about an account before its owner accepts the invitation to join."""
    try:
        address = users.normalise_email(person.email)
        given = users.clean_name(person.given_name, "first or given name")
        family = users.clean_name(person.family_name, "last name or surname")
        _checked_roles(org, person.roles, catalogue)
    except (InvalidInput, PermissionDenied) as exc:
        return Outcome(
            person.email.strip(),
            f"{person.given_name} {person.family_name}".strip(),
            "error",
            exc.text,
        )
    existing = users.find_by_email(address)
    name = f"{given} {family}"
    if existing is None:
        return Outcome(address, name, "invited")
    if existing.id == actor.id:
        return Outcome(address, name, "error", N_("You cannot add yourself."))
    current = organisations.membership(existing, org)
    if current is not None:
        if existing.status == UserStatus.INVITED and existing.must_change_password:
            return Outcome(address, name, "already_member", ALREADY_INVITED, existing.sub)
        return Outcome(
            address,
            name,
            "already_member",
            N_("Already a member of this organisation."),
            existing.sub,
        )
    waiting = joining.open_invitation(org, existing)
    if waiting is not None and joining.is_waiting(waiting):
        return Outcome(address, name, "already_member", ALREADY_INVITED, waiting.public_id)
    return Outcome(address, name, "invited")


def _reclaim(user: User, person: NewUser) -> None:
    """Make an unverified self sign-up the invited account of the address's owner: the names
    the officer gave, no password but the invitation's, every session of whoever signed up
    ended (their password, and any sign-in half-done with it, stop working)."""
    user.given_name = users.clean_name(person.given_name, "first or given name")
    user.family_name = users.clean_name(person.family_name, "last name or surname")
    user.origin = UserOrigin.INVITATION
    user.password_changed_at = None
    user.updated_at = clock.now()
    passwords.sign_out_everywhere(user)


def add(actor: User, org: Organisation, person: NewUser, settings: ManagementSettings) -> Outcome:
    """Invite the person with ``roles``: a new address gets an account and a temporary
    password; an address with an account gets an invitation to join (``joining``); an
    unverified self sign-up with the address is invited as if new (see ``_reclaim``).
    Raises InvalidInput (or PermissionDenied) for a row that cannot be added."""
    outcome = check_new(actor, org, person, settings.catalogue)
    if outcome.kind == "error":
        raise InvalidInput(outcome.message)
    if outcome.kind == "already_member":
        raise InvalidInput(
            N_("%(email)s is already a member of this organisation or invited to it."),
            email=outcome.email,
        )
    roles = set(person.roles)
    existing = users.find_by_email(outcome.email)
    if existing is not None and not passwords.unverified_sign_up(existing):
        invitation = joining.invite(
            actor,
            org,
            existing,
            email=outcome.email,
            given_name=users.clean_name(person.given_name, "first or given name"),
            family_name=users.clean_name(person.family_name, "last name or surname"),
            role_keys=roles,
            ttl_seconds=settings.join_invitation_ttl,
            catalogue=settings.catalogue,
        )
        return Outcome(outcome.email, outcome.name, "invited", sub=invitation.public_id)
    if existing is not None:  # an unverified sign-up: the address's owner is invited
        _reclaim(existing, person)
        user = existing
    else:
        user = users.create(
            email=person.email,
            given_name=person.given_name,
            family_name=person.family_name,
            origin=UserOrigin.INVITATION,
        )
    # One event, as for an invitation to join (``joining.invite``): the organisation's log
    # says the same whichever it was.
    organisations.set_roles(user, org, roles, settings.catalogue, recorded=False)
    invitations.invite(
        user,
        ttl_seconds=settings.temporary_password_ttl,
        organisation=org,
        invited_by=actor,
        roles=sorted(roles),
    )
    return Outcome(outcome.email, outcome.name, "invited", sub=user.sub)


def change_offer(
    actor: User,
    org: Organisation,
    invitation: JoinInvitation,
    keys: Iterable[str],
    catalogue: Catalogue,
) -> None:
    """Change the roles an invitation to join offers (checked as for a member)."""
    joining.set_offer(actor, invitation, _checked_roles(org, keys, catalogue))


def add_all(
    actor: User, org: Organisation, people: list[NewUser], settings: ManagementSettings
) -> list[Outcome]:
    """Add everyone or, at the first refusal, raise (the caller rolls the whole batch back)."""
    return [add(actor, org, person, settings) for person in people]


# -- account actions ----------------------------------------------------------------------------


def _outside(target: User, actor: User, catalogue: Catalogue) -> list[Organisation]:
    mine = {o.id for o in manageable(actor, catalogue)}
    return [m.organisation for m in target.memberships if m.organisation_id not in mine]


def belongs_elsewhere(target: User, actor: User, catalogue: Catalogue) -> bool:
    """Whether ``target`` also belongs to an organisation ``actor`` does not manage."""
    return bool(_outside(target, actor, catalogue))


def check_removable(
    actor: User, org: Organisation, target: User, catalogue: Catalogue
) -> tuple[Membership, bool]:
    """The membership to remove and whether the account goes too; PermissionDenied when the
    person cannot be taken out of ``org``. Someone who belongs only here must be suspended
    first (their account, or their membership here); the account is deleted when it was made
    by invitation and belongs nowhere else. The named exams officer is not removed from here."""
    _not_self(actor, target, "delete")
    _, membership = member(org, target.sub)
    office.protect_exams_officer(org, target, "delete")
    others = [m for m in target.memberships if m.organisation_id != org.id]
    suspended = target.status == UserStatus.SUSPENDED or membership.is_suspended
    if not others and not suspended:
        raise PermissionDenied(N_("Suspend this account before deleting it."))
    _keep_a_manager(
        org, target, catalogue, catalogue.management_role(org.brand) in membership.role_keys
    )
    return membership, removal_deletes_account(org, target)


def removal_deletes_account(org: Organisation, target: User) -> bool:
    """Whether taking ``target`` out of ``org`` deletes their account too: one made by
    invitation that belongs to no other organisation. Any other is kept, with its other
    centres or none (so a page says *Remove*, not *Delete*)."""
    others = [m for m in target.memberships if m.organisation_id != org.id]
    return not others and target.origin == UserOrigin.INVITATION


def remove(actor: User, org: Organisation, target: User, catalogue: Catalogue) -> bool:
    """Take the person out of ``org`` (see ``check_removable``). Returns whether the account
    was deleted."""
    membership, delete_account = check_removable(actor, org, target, catalogue)
    others = [m for m in target.memberships if m.organisation_id != org.id]
    audit.record(
        "management.user_deleted" if delete_account else "management.user_removed",
        actor=actor,
        target_type="user",
        target_id=target.sub,
        organisation_id=org.id,
        before=sorted(membership.role_keys),
    )
    if org.exams_officer_id == target.id:
        org.exams_officer_id = None
    if delete_account:
        db.session.delete(target)
    else:
        target.memberships.remove(membership)
        db.session.delete(membership)
        # Tokens that speak for this organisation stop working; the rest of the account stays.
        tokens.revoke_for_organisation(target.id, org.id)
        if not others:
            passwords.sign_out_everywhere(target)
            if target.status == UserStatus.SUSPENDED:
                # Only a centre suspends an account, and this was its last: kept with no centre
                # and still suspended, it could neither sign in nor be restored by anyone. It
                # leaves as an account of its own, as it would after a restore.
                target.status = _status_after_suspension(target)
    db.session.flush()
    return delete_account


def _status_after_suspension(target: User) -> UserStatus:
    """Active for an account that was activated (a password of its own and an address it
    proved); waiting for its emailed code otherwise, so nothing skips the proof of the
    address."""
    activated = target.password_changed_at is not None and any(e.verified for e in target.emails)
    return UserStatus.ACTIVE if activated else UserStatus.INVITED


def _can_receive(org: Organisation, target: User, roles: frozenset[str]) -> list[Any]:
    """Who the holding service will accept: a member of ``org`` other than ``target``, active,
    not suspended here, holding one of ``roles`` (the service's roles) at ``org``."""
    return [
        Membership.organisation_id == org.id,
        Membership.suspended_at.is_(None),
        User.id != target.id,
        User.status == UserStatus.ACTIVE,
        select(membership_roles.c.membership_id)
        .where(
            membership_roles.c.membership_id == Membership.id,
            membership_roles.c.role_key.in_(sorted(roles)),
        )
        .exists(),
    ]


def transfer_targets(
    org: Organisation, target: User, service_keys: Iterable[str], catalogue: Catalogue
) -> list[User]:
    """Who may receive a leaving person's data on a service with ``service_keys``: the
    organisation's other active members holding a role for one of those services there, by
    name."""
    roles = catalogue.roles_for_services(frozenset(service_keys))
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(*_can_receive(org, target, roles))
            .order_by(User.given_name, User.family_name, User.id)
        )
    )


def transfer_target(
    org: Organisation, target: User, sub: str, service_keys: Iterable[str], catalogue: Catalogue
) -> User:
    """The member ``sub`` of ``org`` as a recipient of ``target``'s data on a service with
    ``service_keys`` (see ``transfer_targets``), or InvalidInput."""
    roles = catalogue.roles_for_services(frozenset(service_keys))
    to = db.session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.sub == sub, *_can_receive(org, target, roles))
    )
    if to is None:
        raise InvalidInput(
            N_("Choose someone at %(centre)s who has a role for this service."), centre=org.code
        )
    return to


def record_transfer(actor: User, org: Organisation, target: User, to: User, service: str) -> None:
    """A service has moved what ``target`` held at ``org`` to ``to``."""
    _audit("management.data_transferred", actor, org, target, service=service, to=to.sub)


def awaiting_activation(target: User) -> bool:
    """Invited and never activated: the account exists only because an officer typed its
    address, and nothing has been done with it yet."""
    return (
        target.status == UserStatus.INVITED
        and target.must_change_password
        and target.password_changed_at is None
    )


def withdraw_invitation(actor: User, org: Organisation, target: User) -> None:
    """Take back the invitation of someone who never activated: they leave ``org``, and the
    account goes when it was made by invitation and belongs nowhere else (its temporary
    password stops working either way)."""
    _not_self(actor, target, "delete")
    _, membership = member(org, target.sub)
    if not awaiting_activation(target):
        raise InvalidInput(N_("This person has already activated their account."))
    office.protect_exams_officer(org, target, "delete")
    others = [m for m in target.memberships if m.organisation_id != org.id]
    audit.record(
        "management.invitation_withdrawn",
        actor=actor,
        target_type="user",
        target_id=target.sub,
        organisation_id=org.id,
        name=target.name,
    )
    if not others and target.origin == UserOrigin.INVITATION:
        db.session.delete(target)
    else:
        target.memberships.remove(membership)
        db.session.delete(membership)
        target.password_hash = None
        target.temp_password_expires_at = None
    db.session.flush()


def resend_invitation(
    actor: User, org: Organisation, target: User, settings: ManagementSettings
) -> None:
    member(org, target.sub)
    if target.status != UserStatus.INVITED or not target.must_change_password:
        raise InvalidInput(N_("This person has already activated their account."))
    if address_changes.pending(target) is not None:
        # The invitation would go to the old address, perhaps the mistyped one.
        raise InvalidInput(
            N_(
                "A change of email address is waiting for confirmation: the invitation goes to"
                " the new address once it is confirmed. Cancel the change to send it to the"
                " old address."
            )
        )
    _, membership = member(org, target.sub)
    invitations.invite(
        target,
        ttl_seconds=settings.temporary_password_ttl,
        organisation=org,
        invited_by=actor,
        roles=sorted(membership.role_keys),
    )


def check_password_reset(actor: User, org: Organisation, target: User) -> None:
    """InvalidInput unless ``target`` is an active member of ``org`` (not suspended there)."""
    _, membership = member(org, target.sub)
    if target.status != UserStatus.ACTIVE or membership.is_suspended:
        raise InvalidInput(N_("Only an active account can be sent a password reset link."))


def send_password_reset(
    actor: User, org: Organisation, target: User, settings: ManagementSettings
) -> None:
    """Email the person a link to choose a new password (nothing changes until they use it);
    the email names ``actor`` as who asked."""
    check_password_reset(actor, org, target)
    passwords.request_reset(
        target,
        minutes=settings.password_reset_minutes,
        asked_by=actor,
        organisation=org,
        locale=target.locale,
    )
    _audit("management.password_reset_sent", actor, org, target)


OWN_ADDRESS_ONLY = N_(
    "This person holds User Management or a role that goes with the exams officer, so only they"
    " can change their email address, on Account > Personal info."
)


def holds_office(person: User, catalogue: Catalogue) -> bool:
    """Whether ``person`` holds User Management or an officer-only role (Global Listening and
    the like) at any organisation, or is one's exams officer. Nobody else may change such a
    person's address: whoever controls the address controls the account (Forgotten password)."""
    guarded = set(catalogue.management_roles()) | {
        r.key for r in catalogue.roles if not r.grantable_by_centre
    }
    if any(m.role_keys & guarded for m in person.memberships):
        return True
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.exams_officer_id == person.id)
        )
    )


def check_address_change(
    actor: User, org: Organisation, target: User, catalogue: Catalogue
) -> None:
    """PermissionDenied (or NotFound) unless ``actor`` may change or cancel a change of
    ``target``'s address: not their own, a member of ``org``, belonging to no organisation the
    actor does not manage, and not someone who ``holds_office``."""
    _not_self(actor, target, "change the email address of")
    member(org, target.sub)
    if _outside(target, actor, catalogue):
        raise PermissionDenied(
            N_(
                "This person also belongs to an organisation you do not manage, so only they can"
                " change their email address."
            )
        )
    if holds_office(target, catalogue):
        raise PermissionDenied(OWN_ADDRESS_ONLY)


def change_email(
    actor: User, org: Organisation, target: User, address: str, settings: ManagementSettings
) -> str:
    """Ask for the person's main email address to change: it changes only when the link sent
    to the new address is used, and the old address is told now (see
    ``idp.domain.address_changes``). Returns the normalised address. The same whether or not
    the address belongs to another account."""
    check_address_change(actor, org, target, settings.catalogue)
    return address_changes.request(
        target, address, by=actor, organisation=org, ttl_seconds=settings.address_change_ttl
    )


def confirm_email_change(change: AddressChange, settings: ManagementSettings) -> tuple[User, bool]:
    """Use the link of a change of address (see ``address_changes.confirm``), unless the person
    has come to hold office since it was asked: only they change their address now."""
    target = db.session.get(User, change.user_id)
    if target is None or holds_office(target, settings.catalogue):
        raise LinkInvalid(OWN_ADDRESS_ONLY)
    return address_changes.confirm(change, invitation_ttl=settings.temporary_password_ttl)


def cancel_email_change(
    actor: User, org: Organisation, target: User, settings: ManagementSettings
) -> None:
    """Drop the change of ``target``'s address waiting for its link."""
    check_address_change(actor, org, target, settings.catalogue)
    address_changes.cancel(target, by=actor, organisation=org)
