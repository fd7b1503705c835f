"""Organisations (centres), memberships and the roles held in them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select

from idp.catalogue import Catalogue
from idp.domain import audit
from idp.errors import Conflict, InvalidInput, NotFound
from idp.extensions import db
from idp.models import Membership, Organisation, RoleRow, User

CODE_RE = re.compile(r"^[A-Z0-9]{2,20}$")


def get_by_code(code: str) -> Organisation:
    organisation = db.session.scalar(
        select(Organisation).where(Organisation.code == (code or "").strip().upper())
    )
    if organisation is None:
        raise NotFound(f"No organisation with centre number {code!r}.")
    return organisation


def create(
    *, code: str, name: str, brand: str, catalogue: Catalogue, associate_of: str | None = None
) -> Organisation:
    """Create a centre; ``associate_of`` names the Cambridge Associate that manages it."""
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise InvalidInput("The centre number must be 2 to 20 letters or digits, like AA101.")
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("Enter the organisation's name (200 characters or fewer).")
    if brand not in {b.key for b in catalogue.brands}:
        raise InvalidInput(f"Unknown brand {brand!r}.")
    if db.session.scalar(select(Organisation.id).where(Organisation.code == code)) is not None:
        raise Conflict(f"An organisation with centre number {code} already exists.")
    parent = get_by_code(associate_of) if associate_of else None
    if parent is not None and parent.parent_id is not None:
        raise InvalidInput("An associate centre cannot manage associate centres of its own.")
    organisation = Organisation(code=code, name=name, brand=brand, parent=parent)
    db.session.add(organisation)
    db.session.flush()
    audit.record(
        "organisation.created",
        target_type="organisation",
        target_id=code,
        organisation_id=organisation.id,
        associate_of=parent.code if parent else None,
    )
    return organisation


def membership(user: User, organisation: Organisation) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation.id
        )
    )


def set_roles(
    user: User,
    organisation: Organisation,
    role_keys: Iterable[str],
    catalogue: Catalogue,
    *,
    recorded: bool = True,
) -> Membership:
    """Make ``role_keys`` the user's roles at the organisation, joining it if need be.
    ``recorded=False`` leaves the audit event to the caller (an invitation records its own)."""
    keys = set(role_keys)
    unknown = sorted(k for k in keys if catalogue.roles_by_key.get(k) is None)
    if unknown:
        raise InvalidInput(f"Unknown role {unknown[0]!r}.")
    brand_services = {s.key for s in catalogue.services if s.brand == organisation.brand}
    foreign = sorted(k for k in keys if catalogue.roles_by_key[k].service not in brand_services)
    if foreign:
        raise InvalidInput(
            f"The role {foreign[0]!r} is not offered to {organisation.brand} centres."
        )
    member = membership(user, organisation)
    if member is None:
        member = Membership(user=user, organisation=organisation)
        db.session.add(member)
    before = sorted(member.role_keys)
    member.role_rows = list(db.session.scalars(select(RoleRow).where(RoleRow.key.in_(keys))))
    db.session.flush()
    if not recorded:
        return member
    audit.record(
        "membership.roles_set",
        target_type="user",
        target_id=user.sub,
        organisation_id=organisation.id,
        before=before,
        after=sorted(keys),
    )
    return member


def set_exams_officer(organisation: Organisation, user: User, catalogue: Catalogue) -> Membership:
    """Name the centre's exams officer: they get User Management and the roles no centre can
    grant (Global Listening). Those roles move with the office: a previous officer loses them.
    A suspension of the person at the centre ends. Only an operator names one (the CLI): My
    Organisation cannot change the office or what it holds (``idp.domain.office``).
    """
    officer_only = catalogue.officer_only_roles(organisation.brand)
    previous = organisation.exams_officer
    if previous is not None and previous.id != user.id:
        old = membership(previous, organisation)
        if old is not None:
            set_roles(previous, organisation, old.role_keys - officer_only, catalogue)
    organisation.exams_officer = user
    current = membership(user, organisation)
    keys = (current.role_keys if current else set()) | officer_only
    keys.add(catalogue.management_role(organisation.brand))
    member = set_roles(user, organisation, keys, catalogue)
    member.suspended_at = None  # the office is held, not suspended at its own centre
    audit.record(
        "organisation.exams_officer_set",
        target_type="organisation",
        target_id=organisation.code,
        organisation_id=organisation.id,
        user=user.sub,
    )
    return member


def handed_over(organisation: Organisation, catalogue: Catalogue) -> set[str]:
    """The roles a new exams officer takes over from the one they replace: what that officer
    holds at the centre that a centre can give (the office's own roles come with the office)."""
    previous = organisation.exams_officer
    old = membership(previous, organisation) if previous is not None else None
    if old is None:
        return set()
    grantable = {r.key for r in catalogue.brand_roles(organisation.brand) if r.grantable_by_centre}
    return (old.role_keys & grantable) - {catalogue.management_role(organisation.brand)}


def hand_over_office(
    organisation: Organisation,
    user: User,
    catalogue: Catalogue,
    *,
    previous_keeps_management: bool,
) -> Membership:
    """Make ``user`` the exams officer (``set_exams_officer``), taking over what the officer
    replaced held at the centre (``handed_over``: Submit for Assessment's exams officer role,
    say, which only another User Management holder could give them otherwise, and the new
    officer may not give themselves); the officer replaced keeps User Management or loses it,
    as the exam board's staff chose."""
    previous = organisation.exams_officer
    taken_over = handed_over(organisation, catalogue)
    member = set_exams_officer(organisation, user, catalogue)
    if taken_over - member.role_keys:
        member = set_roles(user, organisation, member.role_keys | taken_over, catalogue)
    if previous is not None and previous.id != user.id and not previous_keeps_management:
        old = membership(previous, organisation)
        management = catalogue.management_role(organisation.brand)
        if old is not None and management in old.role_keys:
            set_roles(previous, organisation, old.role_keys - {management}, catalogue)
    return member


def move_member(
    user: User, source: Organisation, target: Organisation, catalogue: Catalogue
) -> Membership:
    """Move a person from one organisation to another (an operator's task): the roles they held
    that the target's brand offers come along (joining any they hold there already), the roles
    no centre grants stay behind, and so does the exams-officer office."""
    if source.id == target.id:
        raise InvalidInput("The two organisations are the same.")
    old = membership(user, source)
    if old is None:
        raise NotFound(f"{user.email} is not a member of {source.code}.")
    offered = {r.key for r in catalogue.brand_roles(target.brand) if r.grantable_by_centre}
    existing = membership(user, target)
    keys = (old.role_keys & offered) | (existing.role_keys if existing else set())
    moved = set_roles(user, target, keys, catalogue)
    if source.exams_officer_id == user.id:
        source.exams_officer_id = None
    db.session.delete(old)
    db.session.flush()
    audit.record(
        "membership.moved",
        target_type="user",
        target_id=user.sub,
        organisation_id=target.id,
        source=source.code,
        target=target.code,
        roles=sorted(keys),
    )
    return moved


def set_parent(organisation: Organisation, parent: Organisation | None) -> None:
    """Make ``organisation`` an associate centre of ``parent`` (or of no Associate)."""
    if parent is not None and (parent.id == organisation.id or parent.parent_id is not None):
        raise InvalidInput("An organisation can only be the associate centre of a top-level one.")
    if parent is not None and organisation.associates:
        raise InvalidInput(f"{organisation.code} has associate centres of its own.")
    before = organisation.parent.code if organisation.parent else None
    organisation.parent = parent
    db.session.flush()
    audit.record(
        "organisation.associate_of_set",
        target_type="organisation",
        target_id=organisation.code,
        organisation_id=organisation.id,
        before=before,
        after=parent.code if parent else None,
    )
