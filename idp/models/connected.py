"""Accounts at other providers (Google, Facebook, ...) connected to a person's account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow


class ConnectedAccount(db.Model):  # type: ignore[name-defined]
    """The upstream's stable subject for this person: the only thing sign-in matches on
    (never the email address, which the upstream may let someone else claim)."""

    __tablename__ = "connected_accounts"
    __table_args__ = (
        UniqueConstraint("upstream", "subject"),
        UniqueConstraint("user_id", "upstream"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    upstream: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    # What the upstream said at connection time, to show the person which account it is.
    email: Mapped[str | None] = mapped_column(String(254))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
