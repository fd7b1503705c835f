"""Passkeys (WebAuthn credentials) and the challenges of their ceremonies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow


class Passkey(db.Model):  # type: ignore[name-defined]
    """A public-key credential a person registered: the private key never leaves their
    authenticator (a phone, a computer, a security key); we keep its public key."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The credential id, base64url (at most 1,023 bytes: 1,364 characters).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Backup eligible: a synced passkey (it may live on several devices); backed up: it is.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_ip: Mapped[str | None] = mapped_column(String(64))
    created_user_agent: Mapped[str | None] = mapped_column(String(300))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    last_used_user_agent: Mapped[str | None] = mapped_column(String(300))


class PasskeyChallenge(db.Model):  # type: ignore[name-defined]
    """One ceremony's challenge, kept here rather than in the (signed, replayable) session
    cookie: the browser holds only ``handle``'s random value; a challenge is spent once, by
    the browser that asked for it, before it expires."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the random handle kept in the browser's session.
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    challenge: Mapped[str] = mapped_column(String(128))  # base64url
    purpose: Mapped[str] = mapped_column(String(16))  # "register", "sign_in", "second_step"
    # The account a registration or a second step is for; none for a sign-in by passkey.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
