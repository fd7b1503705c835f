"""Storing issued tokens (digests only) and finding them again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from sqlalchemy import select

from idp import clock
from idp.config import Settings
from idp.extensions import db
from idp.models import Client, Token, User
from idp.security import token_hash


def store_token(token: dict[str, Any], request: OAuth2Request, settings: Settings) -> Token:
    """Save a freshly issued token; it inherits the family and sign-in facts of its source."""
    source = request.authorization_code or request.refresh_token
    now = clock.now()
    refresh = token.get("refresh_token")
    if request.refresh_token is not None:
        # A rotated refresh token keeps the absolute lifetime of the grant it came from.
        refresh_expires = request.refresh_token.refresh_expires_at
    else:
        refresh_expires = now + timedelta(seconds=settings.oidc.refresh_token_ttl)
    row = Token(
        family_id=source.family_id,
        client_id=request.client.client_id,
        user_id=request.user.id,
        sid=source.sid,
        organisation_id=source.organisation_id,
        scope=token.get("scope", ""),
        access_token_hash=token_hash(token["access_token"]),
        refresh_token_hash=token_hash(refresh) if refresh else None,
        issued_at=now,
        access_expires_at=now + timedelta(seconds=token["expires_in"]),
        refresh_expires_at=refresh_expires if refresh else None,
        auth_time=source.auth_time,
        acr=source.acr,
        amr=source.amr,
        claims_request=source.claims_request,
    )
    db.session.add(row)
    return row


@dataclass
class TokenMatch:
    """A token found by its value, and which of the row's two tokens the value was."""

    row: Token
    kind: str  # "access_token" | "refresh_token"

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def is_expired(self) -> bool:
        expires = (
            self.row.access_expires_at
            if self.kind == "access_token"
            else self.row.refresh_expires_at
        )
        return expires is None or expires <= clock.now()

    def is_revoked(self) -> bool:
        revoked = (
            self.row.access_revoked_at
            if self.kind == "access_token"
            else self.row.refresh_revoked_at
        )
        return revoked is not None

    def is_active(self) -> bool:
        if self.is_expired() or self.is_revoked():
            return False
        user = db.session.get(User, self.row.user_id)
        return user is not None and user.status == "active"

    def get_user(self) -> User | None:
        return db.session.get(User, self.row.user_id)

    def get_client(self) -> Client | None:
        return db.session.scalar(select(Client).where(Client.client_id == self.row.client_id))

    @property
    def expires_at(self) -> int:
        expires = (
            self.row.access_expires_at
            if self.kind == "access_token"
            else self.row.refresh_expires_at
        )
        return int(expires.timestamp()) if expires else 0


def find_token(value: str, hint: str | None = None) -> TokenMatch | None:
    """Look a token value up as an access token and as a refresh token, hint first."""
    if not isinstance(value, str) or not value or len(value) > 512:
        return None
    digest = token_hash(value)
    kinds = ["access_token", "refresh_token"]
    if hint == "refresh_token":
        kinds.reverse()
    for kind in kinds:
        column = Token.access_token_hash if kind == "access_token" else Token.refresh_token_hash
        row = db.session.scalar(select(Token).where(column == digest))
        if row is not None:
            return TokenMatch(row, kind)
    return None
