"""Audit events: one row per security-relevant action."""

from __future__ import annotations

from typing import Any

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
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_user_id=actor.id if actor else None,
        actor=actor_label or (actor.sub if actor else "system"),
        target_type=target_type,
        target_id=str(target_id),
        organisation_id=organisation_id,
        ip=ip,
        details=details,
    )
    db.session.add(event)
    return event
