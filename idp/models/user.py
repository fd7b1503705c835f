"""People and their email addresses."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from idp.models.organisation import Membership
    from idp.models.session import AuthSession


class UserStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class UserOrigin(enum.StrEnum):
    INVITATION = "invitation"
    SELF = "self"
    OPERATOR = "operator"


class StaffRole(enum.StrEnum):
    """The exam board's own people, granted with ``idp staff grant``: *support* finds and
    helps people and centres (the console); *operator* also runs the service (clients, keys)."""

    SUPPORT = "support"
    OPERATOR = "operator"


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(40), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=UserStatus.ACTIVE)
    origin: Mapped[str] = mapped_column(String(16), default=UserOrigin.OPERATOR)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # The exam board's support desk or operators (``StaffRole``), None for everyone else.
    staff_role: Mapped[str | None] = mapped_column(String(16), index=True)
    temp_password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret_enc: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code is refused if its step is not later (replay).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the profile (name, email) last changed: the ``updated_at`` claim. Set by the domain
    # functions that change it, not on every write (signing in is not an update).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language of our pages when the person last signed in or chose one while signed in
    # ("en", "es"): emails someone else causes (an invitation, an officer's reset) use it, and
    # it is the ``locale`` claim. None until then.
    locale: Mapped[str | None] = mapped_column(String(16))

    emails: Mapped[list[EmailAddress]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="EmailAddress.id"
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[AuthSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login: the id kept in the browser session is the sign-in session's id,
    # so ending that session (logout, suspension) signs the browser out everywhere.
    @property
    def auth_session(self) -> AuthSession | None:
        return self.__dict__.get("_idp_auth_session")

    def attach_session(self, auth_session: AuthSession) -> None:
        """Bind the sign-in session this user object was loaded for (not a column)."""
        self.__dict__["_idp_auth_session"] = auth_session

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def primary_email(self) -> EmailAddress | None:
        return next((e for e in self.emails if e.is_primary), None)

    @property
    def email(self) -> str | None:
        primary = self.primary_email
        return primary.address if primary else None

    @property
    def is_staff(self) -> bool:
        """Uses the console: the support desk and the operators."""
        return self.staff_role in (StaffRole.SUPPORT, StaffRole.OPERATOR)

    @property
    def is_operator(self) -> bool:
        """Also runs the service: clients, keys, policy."""
        return self.staff_role == StaffRole.OPERATOR

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret_enc is not None

    @property
    def is_suspended(self) -> bool:
        return self.status == UserStatus.SUSPENDED

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return self.auth_session is not None

    @property
    def is_active(self) -> bool:
        return self.status != UserStatus.SUSPENDED

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.auth_session.sid if self.auth_session else None

    def __repr__(self) -> str:
        return f"<User {self.sub}>"


class EmailAddress(db.Model):  # type: ignore[name-defined]
    """One of a user's addresses; stored lower-cased, unique across the whole service."""

    __tablename__ = "email_addresses"
    __table_args__ = (
        Index(
            "uq_email_addresses_primary",
            "user_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="emails")

    @property
    def verified(self) -> bool:
        return self.verified_at is not None
