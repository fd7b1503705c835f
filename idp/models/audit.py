"""An append-only record of who did what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_events"
    __table_args__ = (
        # The back-off and lockout checks ask for one person's events of one kind in a recent
        # window (idp/domain/throttling.py, audit.count_since); the reset-email limit for one
        # kind about one target. An index on a single column made each such check read every
        # event of that person, or of that kind, ever recorded.
        Index("ix_audit_events_actor_action_at", "actor_user_id", "action", "at"),
        Index("ix_audit_events_action_target_at", "action", "target_id", "at"),
        # A centre's log, newest first by position (idp.domain.audit.page): a page is one
        # range of it, whichever page; its count an index-only range.
        Index("ix_audit_events_organisation_at", "organisation_id", "at", "id"),
        # A person's events (idp.domain.people.events) and the console's service-wide log
        # (idp.domain.audit_search): each filter is a range of one of these, in the log's
        # order, whatever the number of events.
        Index("ix_audit_events_actor_at", "actor_user_id", "at", "id"),
        Index("ix_audit_events_target_at", "target_id", "at", "id"),
        Index("ix_audit_events_action_at", "action", "at", "id"),
        Index("ix_audit_events_at_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
