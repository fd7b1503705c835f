"""Storing issued tokens (digests only) and finding them again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from sqlalchemy import Row

from idp import clock
from idp.config import Settings
from idp.models import UserStatus
from idp.oidc import store
from idp.security import random_token, token_hash


def grant_source(request: OAuth2Request) -> Any:
    """What a token inherits its family and sign-in facts from: the code or the old token."""
    if request.authorization_code is not None:
        return request.authorization_code
    return request.refresh_token.row


def store_token(token: dict[str, Any], request: OAuth2Request, settings: Settings) -> None:
    """Save a freshly issued token; it inherits the family and sign-in facts of its source."""
    source = grant_source(request)
    now = clock.now()
    refresh = token.get("refresh_token")
    if request.refresh_token is not None:
        # A rotated refresh token keeps the absolute lifetime of the grant it came from.
        refresh_expires = source.refresh_expires_at
    else:
        refresh_expires = now + timedelta(seconds=settings.oidc.refresh_token_ttl)
    store.insert_token(
        {
            "family_id": source.family_id,
            "client_id": request.client.client_id,
            "user_id": request.user.id,
            "sid": source.sid,
            # Settled by the grant (``speak_for``): the source's, or the one the rule found.
            "organisation_id": request.organisation_id,
            "scope": token.get("scope", ""),
            "access_token_hash": token_hash(token["access_token"]),
            "refresh_token_hash": token_hash(refresh) if refresh else None,
            "issued_at": now,
            "access_expires_at": now + timedelta(seconds=token["expires_in"]),
            "refresh_expires_at": refresh_expires if refresh else None,
            "auth_time": source.auth_time,
            "acr": source.acr,
            "amr": source.amr,
            "claims_request": source.claims_request,
        }
    )


def store_client_token(token: dict[str, Any], client_id: str) -> None:
    """Save a client_credentials token: no user, no session, no refresh token."""
    now = clock.now()
    store.insert_token(
        {
            "family_id": random_token(16),
            "client_id": client_id,
            "user_id": None,
            "sid": None,
            "organisation_id": None,
            "scope": token["scope"],
            "access_token_hash": token_hash(token["access_token"]),
            "refresh_token_hash": None,
            "issued_at": now,
            "access_expires_at": now + timedelta(seconds=token["expires_in"]),
            "refresh_expires_at": None,
            "auth_time": int(now.timestamp()),
            "acr": None,
            "amr": [],
            "claims_request": None,
        }
    )


class TokenMatch:
    """A token found by its value, and which of the row's two tokens the value was."""

    def __init__(self, row: Row[Any], kind: str):
        self.row = row
        self.kind = kind  # "access_token" | "refresh_token"

    def check_client(self, client: Any) -> bool:
        return bool(self.row.client_id == client.client_id)

    def get_scope(self) -> str:
        return str(self.row.scope)

    @property
    def expires(self) -> Any:
        return (
            self.row.access_expires_at
            if self.kind == "access_token"
            else self.row.refresh_expires_at
        )

    def is_expired(self) -> bool:
        return self.expires is None or self.expires <= clock.now()

    def is_revoked(self) -> bool:
        revoked = (
            self.row.access_revoked_at
            if self.kind == "access_token"
            else self.row.refresh_revoked_at
        )
        return revoked is not None

    @property
    def for_client(self) -> bool:
        """A client_credentials token: the client acting for itself, no user."""
        return self.row.user_id is None

    def is_active(self) -> bool:
        """Unexpired, unrevoked, its user (if any) still active and its client still enabled."""
        return (
            not self.is_expired()
            and not self.is_revoked()
            and (self.for_client or self.row.user_status == UserStatus.ACTIVE)
            and self.row.client_disabled_at is None
        )


def find_token(value: str, hint: str | None = None) -> TokenMatch | None:
    """Look a token value up as an access token and as a refresh token, hint first."""
    if not isinstance(value, str) or not value or len(value) > 512:
        return None
    lookups = [("access_token", store.token_by_access), ("refresh_token", store.token_by_refresh)]
    if hint == "refresh_token":
        lookups.reverse()
    for kind, lookup in lookups:
        row = lookup(value)
        if row is not None:
            return TokenMatch(row, kind)
    return None
