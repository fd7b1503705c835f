"""Audit events: one row per security-relevant action."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, literal, or_, select, union_all

from idp import clock, metrics
from idp.extensions import db
from idp.models import AuditEvent, MembershipPeriod, User
from idp.models.base import UTCDateTime

# Who is acting, set by the web layer for each request (the domain never sees the request):
# the source address every event of the request carries.
source_ip: ContextVar[str | None] = ContextVar("audit_source_ip", default=None)


def record(
    action: str,
    *,
    actor: User | None = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: str | int = "",
    organisation_id: int | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    """Append an event to the current transaction (a plain insert: audit rows are never read
    back in the request that writes them)."""
    if action.startswith("sign_in."):
        metrics.series(metrics.SIGN_INS, action.removeprefix("sign_in.")).inc()
    db.session.execute(
        insert(AuditEvent.__table__),
        {
            "at": clock.now(),
            "action": action,
            "actor_user_id": actor.id if actor else None,
            "actor": actor_label or (actor.sub if actor else "system"),
            "target_type": target_type,
            "target_id": str(target_id),
            "organisation_id": organisation_id,
            "ip": ip or source_ip.get(),
            "details": details,
        },
    )


def happened_to_since(action: str, target_id: str, since: datetime) -> bool:
    """Whether an ``action`` event about ``target_id`` was recorded since ``since``."""
    table = AuditEvent.__table__
    found = db.session.scalar(
        select(table.c.id)
        .where(table.c.action == action, table.c.target_id == target_id, table.c.at >= since)
        .limit(1)
    )
    return found is not None


def count_since(action: str, actor: User, since: datetime) -> int:
    """How many ``action`` events ``actor`` caused since ``since`` (for simple lockouts)."""
    table = AuditEvent.__table__
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(table)
            .where(
                table.c.actor_user_id == actor.id,
                table.c.action == action,
                table.c.at >= since,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Filter:
    action: str = ""
    actor: str = ""  # subject identifier
    target: str = ""  # subject identifier or other id
    since: datetime | None = None
    until: datetime | None = None


# A person's own events: what they do with their account, wherever they belong. A centre's log
# shows them only for the time the person was its member (``MembershipPeriod``); the events of
# what happened at the centre (``organisation_id``) stay there whoever comes and goes. Every
# action a member's own event can have is named, so each is an index range of
# ``ix_audit_events_actor_action_at`` (a pattern would not be, on PostgreSQL).
OWN_EVENTS = (
    "sign_in.succeeded",
    "sign_in.failed",
    "sign_in.throttled",
    "sign_in.second_factor_failed",
)
# The end of an open period: after any event (a bound value, so the comparison stays a range).
OPEN = datetime(9999, 12, 31, tzinfo=UTC)


def _where(query: Any, f: Filter) -> Any:
    table = AuditEvent.__table__
    if f.action:
        query = query.where(table.c.action.like(f.action.replace("%", "") + "%"))
    if f.actor:
        query = query.where(table.c.actor == f.actor)
    if f.target:
        query = query.where(table.c.target_id == f.target)
    if f.since is not None:
        query = query.where(table.c.at >= f.since)
    if f.until is not None:
        query = query.where(table.c.at < f.until)
    return query


def _of_centre(organisation_id: int, f: Filter) -> Any:
    """The centre's events matching ``f``, as one UNION ALL of two indexed paths: the events at
    the centre (by ``organisation_id``), and its members' own events within their periods (each
    period a range of the person's events by action and time)."""
    table = AuditEvent.__table__
    periods = MembershipPeriod.__table__
    here = _where(select(table).where(table.c.organisation_id == organisation_id), f)
    own = [a for a in OWN_EVENTS if a.startswith(f.action.replace("%", ""))]
    if not own:
        return here
    theirs = _where(
        select(table)
        .select_from(periods)
        .join(
            table,
            and_(
                table.c.actor_user_id == periods.c.user_id,
                table.c.action.in_(own),
                table.c.at >= periods.c.started_at,
                table.c.at < func.coalesce(periods.c.ended_at, literal(OPEN, UTCDateTime)),
            ),
        )
        .where(
            periods.c.organisation_id == organisation_id,
            # Counted once: an own event that also names the centre is in the first path.
            or_(table.c.organisation_id.is_(None), table.c.organisation_id != organisation_id),
        ),
        f,
    )
    return union_all(here, theirs)


def events(
    organisation_id: int, f: Filter, *, limit: int = 50, offset: int = 0
) -> tuple[list[Any], int]:
    """A centre's audit log (newest first) matching ``f``, one page of it and how many in all:
    the events at the centre, and each member's own events (``OWN_EVENTS``) of the time they
    were a member there, never from before they joined or after they left."""
    found = _of_centre(organisation_id, f).subquery()
    total = db.session.scalar(select(func.count()).select_from(found))
    rows = db.session.execute(
        select(found).order_by(found.c.at.desc(), found.c.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total or 0)


def stream(f: Filter, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, as plain dicts (for ``idp audit export``)."""
    table = AuditEvent.__table__
    last_id = 0
    while True:
        rows = db.session.execute(
            _where(select(table), f).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield {
                "id": row.id,
                "at": row.at.isoformat(),
                "action": row.action,
                "actor": row.actor,
                "target_type": row.target_type,
                "target_id": row.target_id,
                "organisation_id": row.organisation_id,
                "ip": row.ip,
                "details": row.details,
            }
        last_id = rows[-1].id
