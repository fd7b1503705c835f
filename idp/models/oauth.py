"""OAuth clients, authorization codes, tokens and consents.

Secrets are never stored: client secrets, codes, access and refresh tokens are kept as
SHA-256 digests (``idp.security.token_hash``) and looked up by digest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models.base import UTCDateTime, utcnow

DEFAULT_GRANT_TYPES = ["authorization_code", "refresh_token"]
DEFAULT_SCOPE = "openid profile email roles organisations offline_access"


class Client(db.Model):  # type: ignore[name-defined]
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_GRANT_TYPES))
    response_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["code"])
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    scope: Mapped[str] = mapped_column(String(500), default=DEFAULT_SCOPE)
    service_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_party: Mapped[bool] = mapped_column(Boolean, default=True)
    can_introspect: Mapped[bool] = mapped_column(Boolean, default=False)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    # Where the provider asks whether the service holds a person's data, and has it transferred,
    # before the person is deleted (``idp.domain.data_holders``).
    user_data_uri: Mapped[str | None] = mapped_column(String(500))
    # Where a tile on the provider's home page sends the browser to start signing in at the
    # service (OpenID Connect Core 1.0 §4, third-party initiated login).
    initiate_login_uri: Mapped[str | None] = mapped_column(String(500))
    # Dynamic registration (RFC 7592): the digest of the token that reads, updates and deletes
    # this registration; empty for clients an operator registered.
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))
    extra_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    def __repr__(self) -> str:
        return f"<Client {self.client_id}>"


class AuthorizationCode(db.Model):  # type: ignore[name-defined]
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str | None] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Token(db.Model):  # type: ignore[name-defined]
    """An access token and, optionally, its refresh token.

    A token with no user is a client_credentials token: the client calling the API for itself.
    Every token descending from one authorization code shares ``family_id``: replaying the
    code, or a rotated refresh token, revokes the whole family.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    # None for a client_credentials token: the client acts for itself.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    access_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Consent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegistrationToken(db.Model):  # type: ignore[name-defined]
    """An initial access token (RFC 7591 §3): lets a service register itself, a set number of
    times until it expires, for the services the operator chose."""

    __tablename__ = "registration_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    service_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    uses_left: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClientAssertion(db.Model):  # type: ignore[name-defined]
    """A ``private_key_jwt`` assertion already used (its ``jti``), kept until it expires so it
    cannot be replayed."""

    __tablename__ = "client_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
