"""Organisations (exam centres) and the memberships that give people roles in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow
from idp.models.user import User

membership_roles = Table(
    "membership_roles",
    db.metadata,
    Column("membership_id", ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True),
    Column("role_key", ForeignKey("roles.key"), primary_key=True, index=True),
)


class Organisation(db.Model):  # type: ignore[name-defined]
    """A centre, identified by its centre number; an associate centre has a parent."""

    __tablename__ = "organisations"
    # The console lists a brand's centres by centre number (``idp.domain.centres.search``).
    __table_args__ = (Index("ix_organisations_brand_code", "brand", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    exams_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Organisation | None] = relationship(
        remote_side="Organisation.id", back_populates="associates"
    )
    associates: Mapped[list[Organisation]] = relationship(back_populates="parent")
    exams_officer: Mapped[User | None] = relationship(foreign_keys=[exams_officer_id])
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.code}>"


class Membership(db.Model):  # type: ignore[name-defined]
    """A user at an organisation, with the roles they hold there."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Suspended at this organisation by its exams officer: the person holds no roles here
    # (``held_role_keys``); their account and other organisations are not affected.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
    role_rows: Mapped[list[RoleRow]] = relationship(secondary=membership_roles, lazy="selectin")

    @property
    def role_keys(self) -> set[str]:
        """The roles given here, in force or not (see ``held_role_keys``)."""
        return {r.key for r in self.role_rows}

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def held_role_keys(self) -> set[str]:
        """The roles the person may use here: none while the membership is suspended."""
        return set() if self.is_suspended else self.role_keys


class ServiceRow(db.Model):  # type: ignore[name-defined]
    """A relying-party service in the catalogue (copied from configuration)."""

    __tablename__ = "services"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)


class RoleRow(db.Model):  # type: ignore[name-defined]
    """A role of a service (copied from configuration); retired roles stay, inactive."""

    __tablename__ = "roles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_key: Mapped[str] = mapped_column(ForeignKey("services.key"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    grantable_by_centre: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
