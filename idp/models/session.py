"""Sign-in sessions: the browser keeps only the ``sid``; the record lives here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from idp.models.user import User


class AuthSession(db.Model):  # type: ignore[name-defined]
    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last request seen from the browser, to the minute: the idle timeout counts from here.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship(back_populates="sessions")


class Interaction(db.Model):  # type: ignore[name-defined]
    """An authorization request waiting for the user to sign in or consent.

    Kept server-side (any instance can resume it) and bound to the browser that started it.
    """

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[list[list[str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    authenticated_sid: Mapped[str | None] = mapped_column(String(64))
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person chose, in this interaction, the organisation they act for.
    organisation_chosen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
