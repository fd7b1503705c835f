"""Audit events: one row per security-relevant action."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select

from idp import clock, metrics
from idp.extensions import db
from idp.models import AuditEvent, Membership, User

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


def _where(query: Any, organisation_ids: list[int] | None, f: Filter) -> Any:
    table = AuditEvent.__table__
    if organisation_ids is not None:
        # The organisation's own events, and the sign-ins of its current members.
        members = select(Membership.user_id).where(Membership.organisation_id.in_(organisation_ids))
        query = query.where(
            or_(
                table.c.organisation_id.in_(organisation_ids),
                and_(table.c.action.like("sign_in.%"), table.c.actor_user_id.in_(members)),
            )
        )
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


def events(
    organisation_ids: list[int] | None, f: Filter, *, limit: int = 50, offset: int = 0
) -> tuple[list[Any], int]:
    """Events (newest first) of these organisations (None: all) matching ``f``, and how many."""
    table = AuditEvent.__table__
    total = db.session.scalar(_where(select(func.count()).select_from(table), organisation_ids, f))
    rows = db.session.execute(
        _where(select(table), organisation_ids, f)
        .order_by(table.c.at.desc(), table.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total or 0)


def stream(f: Filter, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, as plain dicts (for ``idp audit export``)."""
    table = AuditEvent.__table__
    last_id = 0
    while True:
        rows = db.session.execute(
            _where(select(table), None, f)
            .where(table.c.id > last_id)
            .order_by(table.c.id)
            .limit(batch)
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
