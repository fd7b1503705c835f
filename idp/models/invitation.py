"""Invitations to join an organisation, sent to people who already have an account."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow
from idp.models.organisation import Organisation, RoleRow
from idp.models.user import User

join_invitation_roles = Table(
    "join_invitation_roles",
    db.metadata,
    Column(
        "invitation_id", ForeignKey("join_invitations.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role_key", ForeignKey("roles.key"), primary_key=True),
)


class JoinOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class JoinInvitation(db.Model):  # type: ignore[name-defined]
    """An organisation's offer of a membership, with roles, to an existing account.

    The person becomes a member only by accepting it. Until then the organisation knows only
    what its officer typed (``email``, ``given_name``, ``family_name``): the account's own name,
    centres and history stay the person's. ``public_id`` has the shape of a subject identifier,
    so the officer's pages address an invitation exactly as they address an invited member.
    One open invitation (no ``outcome``) per person and organisation."""

    __tablename__ = "join_invitations"
    __table_args__ = (
        Index(
            "uq_join_invitations_open",
            "organisation_id",
            "user_id",
            unique=True,
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
        Index("ix_join_invitations_user_open", "user_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # The exam board's support desk named this person the centre's exams officer: accepting
    # makes them the officer. "keep" or "drop": whether the officer they replace keeps User
    # Management then (``idp.domain.centres.name_exams_officer``). None: an ordinary invitation.
    officer_nomination: Mapped[str | None] = mapped_column(String(8))

    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    role_rows: Mapped[list[RoleRow]] = relationship(
        secondary=join_invitation_roles, lazy="selectin"
    )

    @property
    def role_keys(self) -> set[str]:
        return {r.key for r in self.role_rows}

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def __repr__(self) -> str:
        return f"<JoinInvitation {self.public_id}>"
