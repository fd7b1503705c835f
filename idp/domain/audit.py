"""Audit events: one row per security-relevant action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    person: User | None = None  # events by or about this person


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
    "sign_in.passkey_refused",
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
    if f.person is not None:
        query = query.where(
            or_(table.c.actor_user_id == f.person.id, table.c.target_id == f.person.sub)
        )
    if f.since is not None:
        query = query.where(table.c.at >= f.since)
    if f.until is not None:
        query = query.where(table.c.at < f.until)
    return query


def _paths(organisation_id: int, f: Filter) -> list[Any]:
    """The centre's events matching ``f``, as two indexed paths to be joined by UNION ALL: the
    events at the centre (a range of ``ix_audit_events_organisation_at``), and its members' own
    events within their periods (each period a range of the person's events by action and time,
    ``ix_audit_events_actor_action_at``)."""
    table = AuditEvent.__table__
    periods = MembershipPeriod.__table__
    here = _where(select(table).where(table.c.organisation_id == organisation_id), f)
    own = [a for a in OWN_EVENTS if a.startswith(f.action.replace("%", ""))]
    if not own:
        return [here]
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
            # One person's periods only, when the log is filtered to a person.
            *([periods.c.user_id == f.person.id] if f.person is not None else []),
            # Counted once: an own event that also names the centre is in the first path.
            or_(table.c.organisation_id.is_(None), table.c.organisation_id != organisation_id),
        ),
        f,
    )
    return [here, theirs]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# How far a centre's log is counted: beyond it the page says "more than 10,000", so the count
# reads at most this many index entries, however long the centre's history.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Position:
    """Where a page of the log starts or ends: an event's time and id, the log's order."""

    at: datetime
    id: int

    def token(self) -> str:
        return f"{(self.at - EPOCH) // MICROSECOND}.{self.id}"

    @classmethod
    def parse(cls, token: str) -> Position | None:
        """The position a ``token`` names, or None for anything else (a link edited by hand)."""
        found = re.fullmatch(r"([0-9]{1,17})\.([0-9]{1,18})", token)
        if found is None:
            return None
        micros, event_id = found.groups()
        try:
            at = EPOCH + int(micros) * MICROSECOND
        except OverflowError:
            return None
        return cls(at, int(event_id))


@dataclass(frozen=True)
class Page:
    """One page of a log, newest first, and whether there is more on either side of it."""

    rows: list[Any]
    newer: Position | None  # the first row's position, when there are newer events
    older: Position | None  # the last row's position, when there are older events
    total: int  # how many events match, up to COUNT_CAP + 1


def older_than(query: Any, p: Position) -> Any:
    # (at, id) < (p.at, p.id), written so that ``at`` bounds an index range on both databases.
    at, event_id = AuditEvent.__table__.c.at, AuditEvent.__table__.c.id
    return query.where(at <= p.at, or_(at < p.at, event_id < p.id))


def newer_than(query: Any, p: Position) -> Any:
    at, event_id = AuditEvent.__table__.c.at, AuditEvent.__table__.c.id
    return query.where(at >= p.at, or_(at > p.at, event_id > p.id))


def _newest_first(paths: list[Any], limit: int, *, oldest: bool = False) -> list[Any]:
    return list(db.session.execute(newest_first(paths, limit, oldest=oldest)).all())


def cut_short(path: Any, limit: int, *, oldest: bool = False) -> Any:
    """The first ``limit`` rows of one path, newest first (or oldest first): read in the order
    of the path's index, never sorted."""
    table = AuditEvent.__table__
    order = (
        (table.c.at.asc(), table.c.id.asc()) if oldest else (table.c.at.desc(), table.c.id.desc())
    )
    return path.order_by(*order).limit(limit)


def newest_first(paths: list[Any], limit: int, *, oldest: bool = False) -> Any:
    """The query of the first ``limit`` rows of the union of ``paths`` in the log's order (or
    from the oldest): each path is ordered and cut on its own, so each reads ``limit`` rows of
    an index at most, and only their union is sorted."""
    cut = [select(cut_short(path, limit, oldest=oldest).subquery()) for path in paths]
    union = (union_all(*cut) if len(cut) > 1 else cut[0]).subquery()
    final = (
        (union.c.at.asc(), union.c.id.asc()) if oldest else (union.c.at.desc(), union.c.id.desc())
    )
    return select(union).order_by(*final).limit(limit)


def page(
    organisation_id: int,
    f: Filter,
    *,
    size: int = 50,
    before: Position | None = None,
    after: Position | None = None,
    oldest: bool = False,
) -> Page:
    """One page of a centre's audit log matching ``f``, newest first: the newest events, those
    just older than ``before`` or just newer than ``after``, or the oldest ones. The events are
    those at the centre, and each member's own events (``OWN_EVENTS``) of the time they were a
    member there, never from before they joined or after they left. Keyset pagination: every
    page costs the same, the first or the ten-thousandth."""
    return page_of(_paths(organisation_id, f), size=size, before=before, after=after, oldest=oldest)


def page_of(
    paths: list[Any],
    *,
    size: int = 50,
    before: Position | None = None,
    after: Position | None = None,
    oldest: bool = False,
) -> Page:
    """One page of the union of ``paths`` (selects of audit events, each an index range ordered
    by (at, id)), newest first, placed as ``page`` places it; the count capped."""
    if not paths:
        return Page(rows=[], newer=None, older=None, total=0)
    if after is not None or oldest:
        bounded = [newer_than(p, after) for p in paths] if after is not None else paths
        rows = _newest_first(bounded, size + 1, oldest=True)
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = bool(rows) and not oldest and _any(paths, older_than, rows[-1])
    else:
        bounded = [older_than(p, before) for p in paths] if before is not None else paths
        rows = _newest_first(bounded, size + 1)
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = bool(rows) and before is not None and _any(paths, newer_than, rows[0])
    return Page(
        rows=rows,
        newer=Position(rows[0].at, rows[0].id) if more_newer else None,
        older=Position(rows[-1].at, rows[-1].id) if more_older else None,
        total=_count(paths),
    )


def _any(paths: list[Any], side: Any, row: Any) -> bool:
    return bool(_newest_first([side(p, Position(row.at, row.id)) for p in paths], 1))


def _count(paths: list[Any]) -> int:
    return int(db.session.scalar(counted(paths)) or 0)


def counted(paths: list[Any]) -> Any:
    """The query of how many rows the paths give, counted up to ``COUNT_CAP + 1`` (each path's
    count stops there too: an index-only range of at most that many entries)."""
    table = AuditEvent.__table__
    parts = [select(p.with_only_columns(table.c.id).limit(COUNT_CAP + 1).subquery()) for p in paths]
    union = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    capped = select(union.c.id).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


def stream(
    f: Filter, batch: int = 1000, organisation_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every matching event (only those at ``organisation_id``, when given), oldest first, as
    plain dicts (for ``idp audit export``). Read in batches by position, (at, id), so each is
    one index range: ``ix_audit_events_organisation_at`` for a centre, else the time index."""
    table = AuditEvent.__table__
    query = _where(select(table), f)
    if organisation_id is not None:
        query = query.where(table.c.organisation_id == organisation_id)
    last: Position | None = None
    while True:
        page = query if last is None else newer_than(query, last)
        rows = db.session.execute(page.order_by(table.c.at, table.c.id).limit(batch)).all()
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
        last = Position(rows[-1].at, rows[-1].id)
