"""Centres as the exam board's support desk sees them: found by centre number or name among
10,000, summed up on one page, and changed by audited console actions.

Finding them is ``idp.domain.centre_search.search``: by a centre number's start or by a
name's words, typos and all, every path an index range.

Changing (``create``, ``rename``, ``name_exams_officer``, ``attach_associate``,
``detach_associate``): each reuses ``idp.domain.organisations`` and records
``staff.<action>`` with the reason the staff member gave, which is required.

Naming an exams officer who already has an account at another centre, or none here, follows
the consent rule of joining (``idp.domain.joining``): the person is sent an invitation to
join, marked as a nomination, and becomes the officer when they accept it; until then the
centre keeps its officer, if it has one. A new address gets a new account, invited by email
with a temporary password, and is the officer at once (as an invited member).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from idp.catalogue import Catalogue
from idp.domain import audit, invitations, joining, organisations, staff, users
from idp.domain.centre_search import MAX_LIMIT
from idp.domain.member_list import STATUS
from idp.errors import N_, Conflict, InvalidInput, NotFound
from idp.extensions import db
from idp.models import (
    JoinInvitation,
    Membership,
    Organisation,
    User,
    UserOrigin,
    membership_roles,
)

COUNT_CAP = 10_000
STATUSES = ("active", "invited", "suspended")
KEEP, DROP = "keep", "drop"


# -- the centre's page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    sub: str
    name: str
    email: str
    status: str


@dataclass(frozen=True)
class Summary:
    organisation: Organisation
    officer: Person | None
    user_managers: list[Person]
    counts: dict[str, int]  # members by status, each counted up to COUNT_CAP + 1
    parent: Organisation | None
    associates: list[Organisation]
    nominee: JoinInvitation | None  # an exams officer named, who has not yet accepted
    events: list[Any]


def _person(user: User) -> Person:
    return Person(user.sub, user.name, user.email or "", str(user.status))


def _count(organisation: Organisation, status: str) -> int:
    members = (
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == organisation.id, STATUS == status)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    return int(db.session.scalar(select(func.count()).select_from(members)) or 0)


def user_managers(organisation: Organisation, catalogue: Catalogue, limit: int = 50) -> list[User]:
    """The people holding User Management at the centre (by name, ``limit`` at most)."""
    role = catalogue.management_role(organisation.brand)
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(membership_roles, membership_roles.c.membership_id == Membership.id)
            .where(
                Membership.organisation_id == organisation.id,
                membership_roles.c.role_key == role,
            )
            .order_by(User.given_name, User.family_name)
            .limit(limit)
        )
    )


def nominee(organisation: Organisation) -> JoinInvitation | None:
    """The open invitation naming someone the centre's exams officer, if any."""
    return db.session.scalar(
        select(JoinInvitation)
        .where(
            JoinInvitation.organisation_id == organisation.id,
            JoinInvitation.outcome.is_(None),
            JoinInvitation.officer_nomination.is_not(None),
        )
        .limit(1)
    )


def summary(organisation: Organisation, catalogue: Catalogue, *, events: int = 10) -> Summary:
    """What the support desk needs to know about a centre on one page: its exams officer, who
    holds User Management, how many members it has by status, its Cambridge Associate or
    associate centres, and (``events`` > 0) the newest events of its audit log."""
    officer = organisation.exams_officer
    return Summary(
        organisation=organisation,
        officer=_person(officer) if officer else None,
        user_managers=[_person(u) for u in user_managers(organisation, catalogue)],
        counts={status: _count(organisation, status) for status in STATUSES},
        parent=organisation.parent,
        associates=list(
            db.session.scalars(
                select(Organisation)
                .where(Organisation.parent_id == organisation.id)
                .order_by(Organisation.code)
                .limit(MAX_LIMIT)
            )
        ),
        nominee=nominee(organisation),
        events=audit.page(organisation.id, audit.Filter(), size=events).rows if events else [],
    )


# -- the console's actions -----------------------------------------------------------------------


def _name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > 200:
        raise InvalidInput(N_("Enter the centre's name (200 characters or fewer)."), field="name")
    return name


def create(
    actor: User,
    code: str,
    name: str,
    brand: str,
    associate_of: str,
    reason: str,
    catalogue: Catalogue,
) -> Organisation:
    """Create a centre (``organisations.create``), an associate centre of ``associate_of`` if
    given."""
    why = staff.clean_reason(reason)
    organisation = organisations.create(
        code=code,
        name=_name(name),
        brand=brand,
        catalogue=catalogue,
        associate_of=associate_of.strip() or None,
    )
    staff.record(
        actor,
        "centre_created",
        reason=why,
        target_type="organisation",
        target_id=organisation.code,
        organisation_id=organisation.id,
        name=organisation.name,
        brand=organisation.brand,
        associate_of=organisation.parent.code if organisation.parent else None,
    )
    return organisation


def rename(actor: User, organisation: Organisation, name: str, reason: str) -> None:
    """Give the centre a new name."""
    why = staff.clean_reason(reason)
    new = _name(name)
    if new == organisation.name:
        raise InvalidInput(N_("The centre already has this name."), field="name")
    before, organisation.name = organisation.name, new
    db.session.flush()
    staff.record(
        actor,
        "centre_renamed",
        reason=why,
        target_type="organisation",
        target_id=organisation.code,
        organisation_id=organisation.id,
        before=before,
        after=new,
    )


@dataclass(frozen=True)
class OfficerPlan:
    """What naming ``email`` the centre's exams officer does: ``way`` is "new" (an account is
    created and invited), "join" (the account is invited to join, and becomes the officer by
    accepting) or "member" (the member becomes the officer now)."""

    organisation: Organisation
    email: str
    way: str
    account: User | None
    previous: User | None
    previous_keeps_management: bool


def officer_plan(
    organisation: Organisation, email: str, *, keep_old_user_management: bool
) -> OfficerPlan:
    """What ``name_exams_officer`` would do, without doing it (the confirmation page says it);
    refused if it cannot be done."""
    address = users.normalise_email(email)
    account = users.find_by_email(address)
    previous = organisation.exams_officer
    if account is not None and previous is not None and account.id == previous.id:
        raise Conflict(
            N_("%(name)s is already the exams officer of this centre."), name=account.name
        )
    if account is not None and account.is_suspended:
        raise InvalidInput(
            N_("The account of %(email)s is suspended: it cannot hold the office."), email=address
        )
    if account is None:
        way = "new"
    elif organisations.membership(account, organisation) is None:
        way = "join"
    else:
        way = "member"
    return OfficerPlan(organisation, address, way, account, previous, keep_old_user_management)


def name_exams_officer(
    actor: User,
    organisation: Organisation,
    email: str,
    given_name: str,
    family_name: str,
    *,
    keep_old_user_management: bool,
    reason: str,
    catalogue: Catalogue,
    ttl: int,
    join_ttl: int | None = None,
) -> OfficerPlan:
    """Name (or replace) the centre's exams officer, as ``officer_plan`` says: a new address
    gets an account and the invitation email with a temporary password (``ttl`` seconds); an
    account that is not a member is invited to join (``join_ttl``) and becomes the officer by
    accepting; a member becomes the officer now. The officer replaced loses Global Listening
    (``organisations.set_exams_officer``) and keeps User Management only if so chosen."""
    why = staff.clean_reason(reason)
    plan = officer_plan(organisation, email, keep_old_user_management=keep_old_user_management)
    nomination = KEEP if keep_old_user_management else DROP
    if plan.way == "join":
        assert plan.account is not None
        invitation = joining.invite(
            actor,
            organisation,
            plan.account,
            email=plan.email,
            given_name=users.clean_name(given_name, "first or given name"),
            family_name=users.clean_name(family_name, "last name or surname"),
            role_keys={catalogue.management_role(organisation.brand)},
            ttl_seconds=join_ttl or ttl,
            catalogue=catalogue,
        )
        invitation.officer_nomination = nomination
        officer = plan.account
    elif plan.way == "new":
        officer = users.create(
            email=plan.email,
            given_name=given_name,
            family_name=family_name,
            origin=UserOrigin.OPERATOR,
        )
        member = organisations.hand_over_office(
            organisation, officer, catalogue, previous_keeps_management=keep_old_user_management
        )
        invitations.invite(
            officer,
            ttl_seconds=ttl,
            organisation=organisation,
            invited_by=actor,
            roles=sorted(member.role_keys),
            as_exams_officer=True,
        )
    else:
        assert plan.account is not None
        officer = plan.account
        organisations.hand_over_office(
            organisation, officer, catalogue, previous_keeps_management=keep_old_user_management
        )
    staff.record(
        actor,
        "exams_officer_named",
        reason=why,
        target_type="organisation",
        target_id=organisation.code,
        organisation_id=organisation.id,
        officer=officer.sub,
        way=plan.way,
        previous=plan.previous.sub if plan.previous else None,
        previous_keeps_management=keep_old_user_management,
    )
    return plan


def attach_associate(actor: User, parent: Organisation, child: Organisation, reason: str) -> None:
    """Make ``child`` an associate centre of the Cambridge Associate ``parent``. A centre is
    not its own associate, and associates have none of their own (so there are no cycles)."""
    why = staff.clean_reason(reason)
    if parent.id == child.id:
        raise InvalidInput(N_("A centre cannot be its own associate centre."), field="code")
    if child.parent_id == parent.id:
        raise Conflict(N_("%(code)s is already an associate centre of this one."), code=child.code)
    if child.parent is not None:
        raise Conflict(
            N_("%(code)s is an associate centre of %(parent)s: detach it from there first."),
            code=child.code,
            parent=child.parent.code,
        )
    if parent.parent_id is not None:
        raise InvalidInput(
            N_("%(code)s is itself an associate centre: it cannot have associate centres."),
            code=parent.code,
        )
    if child.associates:
        raise InvalidInput(
            N_("%(code)s has associate centres of its own."), code=child.code, field="code"
        )
    organisations.set_parent(child, parent)
    staff.record(
        actor,
        "associate_attached",
        reason=why,
        target_type="organisation",
        target_id=parent.code,
        organisation_id=parent.id,
        associate=child.code,
    )


def detach_associate(actor: User, parent: Organisation, child: Organisation, reason: str) -> None:
    """``child`` is no longer an associate centre of ``parent``."""
    why = staff.clean_reason(reason)
    if child.parent_id != parent.id:
        raise NotFound(
            N_("%(code)s is not an associate centre of %(parent)s."),
            code=child.code,
            parent=parent.code,
        )
    organisations.set_parent(child, None)
    staff.record(
        actor,
        "associate_detached",
        reason=why,
        target_type="organisation",
        target_id=parent.code,
        organisation_id=parent.id,
        associate=child.code,
    )
