"""Audit events: one row per security-relevant action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, User


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
            "ip": ip,
            "details": details,
        },
    )


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
