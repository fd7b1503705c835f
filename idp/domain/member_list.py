"""The users list of My Organisation: search, sort, filters and paging, a page at a time.

A few queries a page, whatever the organisation's size: a count that joins only the tables
the filters need (and one of open invitations), the page itself with only the columns it
shows, and the page's roles. On the officer's pages an open invitation to join is a row like an
invited member's, under the names the officer typed. The download (``every_member``) is the
same list, filtered and sorted alike, in batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from idp.extensions import db
from idp.models import (
    EmailAddress,
    JoinInvitation,
    Membership,
    Organisation,
    User,
    UserStatus,
    join_invitation_roles,
    membership_roles,
)
from idp.models.base import UTCDateTime

# A member suspended at this organisation shows as suspended, whatever their account's status.
STATUS = case((Membership.suspended_at.is_not(None), "suspended"), else_=User.status)
# A member's sign-ins are the organisation's to see from when they joined it.
LAST_SIGN_IN = case(
    (User.last_sign_in_at >= Membership.created_at, User.last_sign_in_at), else_=None
)
# The list's sort keys, by the names of the columns ``_members`` and ``_invitations`` share.
SORTS = {
    "name": ("given_name", "family_name"),
    "email": ("address",),
    "status": ("status", "given_name"),
    "last_sign_in": ("last_sign_in_at", "given_name"),
}
PAGE_SIZES = (15, 30, 50, 100)
STATUSES = tuple(s.value for s in UserStatus)


@dataclass(frozen=True)
class ListQuery:
    search: str = ""
    status: str = ""
    role: str = ""
    # Only members holding at least one of these roles (the API shows a client only the
    # people of its services).
    any_role: tuple[str, ...] | None = None
    # Include the organisation's open invitations to join (as "invited" rows, under the names
    # its officer typed): the officer's pages do, the API for services does not.
    invitations: bool = False
    sort: str = "name"
    descending: bool = False
    page: int = 1
    per_page: int = 15


@dataclass(frozen=True)
class Row:
    sub: str
    name: str
    email: str
    status: str
    last_sign_in_at: object
    roles: tuple[str, ...]
    given_name: str
    family_name: str


@dataclass(frozen=True)
class ListPage:
    rows: list[Row]
    total: int
    query: ListQuery

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.query.page - 1) * self.query.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.query.page * self.query.per_page)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _words(query: ListQuery) -> list[str]:
    return [
        "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for word in query.search.lower().split()[:5]
    ]


def _conditions(org: Organisation, query: ListQuery) -> list[Any]:
    conditions: list[Any] = [Membership.organisation_id == org.id]
    for pattern in _words(query):
        conditions.append(
            or_(
                func.lower(User.given_name).like(pattern, escape="\\"),
                func.lower(User.family_name).like(pattern, escape="\\"),
                EmailAddress.address.like(pattern, escape="\\"),
            )
        )
    if query.status in STATUSES:
        conditions.append(STATUS == query.status)
    for wanted in _role_filters(query):
        conditions.append(
            select(membership_roles.c.membership_id)
            .where(
                membership_roles.c.membership_id == Membership.id,
                membership_roles.c.role_key.in_(wanted),
            )
            .exists()
        )
    return conditions


def _role_filters(query: ListQuery) -> list[tuple[str, ...]]:
    """Each a set of roles of which a listed person must hold (or be offered) one."""
    filters: list[tuple[str, ...]] = [(query.role,)] if query.role else []
    if query.any_role is not None:
        filters.append(query.any_role)
    return filters


def _invitation_conditions(org: Organisation, query: ListQuery) -> list[Any] | None:
    """The conditions on the organisation's open invitations, or None when none can match."""
    if not query.invitations or query.status not in ("", *STATUSES):
        return None
    if query.status and query.status != UserStatus.INVITED:
        return None
    conditions: list[Any] = [
        JoinInvitation.organisation_id == org.id,
        JoinInvitation.outcome.is_(None),
    ]
    for pattern in _words(query):
        conditions.append(
            or_(
                func.lower(JoinInvitation.given_name).like(pattern, escape="\\"),
                func.lower(JoinInvitation.family_name).like(pattern, escape="\\"),
                JoinInvitation.email.like(pattern, escape="\\"),
            )
        )
    for wanted in _role_filters(query):
        conditions.append(
            select(join_invitation_roles.c.invitation_id)
            .where(
                join_invitation_roles.c.invitation_id == JoinInvitation.id,
                join_invitation_roles.c.role_key.in_(wanted),
            )
            .exists()
        )
    return conditions


def _members(conditions: list[Any]) -> Any:
    """The members matching ``conditions``, with only the columns the list shows (narrow rows
    keep the sort of the whole organisation cheap)."""
    return (
        select(
            User.sub.label("sub"),
            User.given_name.label("given_name"),
            User.family_name.label("family_name"),
            STATUS.label("status"),
            LAST_SIGN_IN.label("last_sign_in_at"),
            Membership.id.label("membership_id"),
            cast(null(), Integer).label("invitation_id"),
            EmailAddress.address.label("address"),
        )
        .select_from(Membership)
        .join(User, Membership.user_id == User.id)
        .join(EmailAddress, and_(EmailAddress.user_id == User.id, EmailAddress.is_primary))
        .where(*conditions)
    )


def _invitations(conditions: list[Any]) -> Any:
    """Open invitations as rows of the list: what the officer typed, shown as invited."""
    return select(
        JoinInvitation.public_id.label("sub"),
        JoinInvitation.given_name.label("given_name"),
        JoinInvitation.family_name.label("family_name"),
        literal(UserStatus.INVITED.value, String(16)).label("status"),
        cast(null(), UTCDateTime).label("last_sign_in_at"),
        cast(null(), Integer).label("membership_id"),
        JoinInvitation.id.label("invitation_id"),
        JoinInvitation.email.label("address"),
    ).where(*conditions)


def _ordered(org: Organisation, query: ListQuery) -> Any:
    """The list's rows in its order: members, and open invitations when asked for."""
    members = _members(_conditions(org, query))
    invitation_conditions = _invitation_conditions(org, query)
    if invitation_conditions is None:
        rows = members.subquery()
    else:
        rows = union_all(members, _invitations(invitation_conditions)).subquery()
    columns = [rows.c[name] for name in SORTS.get(query.sort, SORTS["name"])]
    order = [c.desc() if query.descending else c.asc() for c in columns]
    return select(rows).order_by(*order, rows.c.sub)


def _with_roles(rows: Sequence[Any]) -> list[Row]:
    """``rows`` of ``_ordered`` as Rows, with their roles (a query for members, one for
    invitations)."""
    roles: dict[tuple[str, int], list[str]] = {}
    memberships = [r.membership_id for r in rows if r.membership_id is not None]
    if memberships:
        for membership_id, key in db.session.execute(
            select(membership_roles.c.membership_id, membership_roles.c.role_key).where(
                membership_roles.c.membership_id.in_(memberships)
            )
        ):
            roles.setdefault(("m", membership_id), []).append(key)
    invitations = [r.invitation_id for r in rows if r.invitation_id is not None]
    if invitations:
        for invitation_id, key in db.session.execute(
            select(join_invitation_roles.c.invitation_id, join_invitation_roles.c.role_key).where(
                join_invitation_roles.c.invitation_id.in_(invitations)
            )
        ):
            roles.setdefault(("i", invitation_id), []).append(key)
    return [
        Row(
            r.sub,
            f"{r.given_name} {r.family_name}",
            r.address,
            r.status,
            r.last_sign_in_at,
            tuple(
                sorted(
                    roles.get(("m", r.membership_id), [])
                    if r.membership_id is not None
                    else roles.get(("i", r.invitation_id), [])
                )
            ),
            r.given_name,
            r.family_name,
        )
        for r in rows
    ]


def _count(org: Organisation, query: ListQuery) -> int:
    """How many rows the list has. The members' count joins only the tables the filters
    need: at 10,000 members a bare count is an index scan, the three-table join several
    times that."""
    counted = select(func.count(Membership.id)).where(*_conditions(org, query))
    if query.search or query.status in STATUSES:
        counted = counted.join(User, Membership.user_id == User.id)
    if query.search:
        counted = counted.join(
            EmailAddress, and_(EmailAddress.user_id == User.id, EmailAddress.is_primary)
        )
    total = db.session.scalar(counted) or 0
    invitation_conditions = _invitation_conditions(org, query)
    if invitation_conditions is not None:
        total += (
            db.session.scalar(select(func.count(JoinInvitation.id)).where(*invitation_conditions))
            or 0
        )
    return int(total)


def list_members(org: Organisation, query: ListQuery) -> ListPage:
    """One page of the organisation's list: counts, a page and the page's roles."""
    total = _count(org, query)
    page = max(1, min(query.page, max(1, -(-total // query.per_page))))
    query = ListQuery(**{**query.__dict__, "page": page})
    rows = db.session.execute(
        _ordered(org, query).limit(query.per_page).offset((page - 1) * query.per_page)
    ).all()
    return ListPage(_with_roles(rows), total, query)


def every_member(org: Organisation, query: ListQuery, batch: int = 500) -> Iterator[Row]:
    """Every member matching ``query``'s search and filters, in its order (its paging
    ignored), fetched ``batch`` rows at a time with a roles query for each batch."""
    result = db.session.execute(_ordered(org, query).execution_options(yield_per=batch))
    for rows in result.partitions():
        yield from _with_roles(rows)
