"""Storage hooks for Authlib's grants: authorization code (with PKCE) and refresh token.

Codes are claimed atomically (``UPDATE ... WHERE used_at IS NULL``), so of two concurrent
redemptions exactly one wins. A second redemption of a code, or any use of a refresh token
that was already rotated, marks the token family for revocation: the token view rolls the
refused request back and then revokes the family in a transaction of its own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import g
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from idp import clock
from idp.extensions import db
from idp.models import AuthorizationCode, Token, User, UserStatus
from idp.security import random_token, token_hash

SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def flag_family_for_revocation(family_id: str) -> None:
    """Ask the token view to revoke ``family_id`` once the refused request is rolled back."""
    g.idp_revoke_family = family_id


def active_user(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    return user


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only; ``plain`` is refused (RFC 9700 2.1.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        context = request.idp_context
        data = request.payload.data
        now = clock.now()
        db.session.add(
            AuthorizationCode(
                code_hash=token_hash(code),
                family_id=random_token(16),
                client_id=request.client.client_id,
                user_id=request.user.id,
                sid=context.sid,
                organisation_id=context.organisation_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                claims_request=context.claims_request,
                auth_time=context.auth_time,
                acr=context.acr,
                amr=context.amr,
                created_at=now,
                expires_at=now
                + timedelta(seconds=self.server.settings.oidc.authorization_code_ttl),
            )
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        digest = token_hash(code)
        now = clock.now()
        claimed: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == digest,
                AuthorizationCode.client_id == client.client_id,
                AuthorizationCode.used_at.is_(None),
                AuthorizationCode.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        row = db.session.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == digest)
        )
        if claimed.rowcount == 1:
            return row
        if row is not None and row.used_at is not None:
            # A second redemption: revoke every token issued from this code.
            flag_family_for_revocation(row.family_id)
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: the code was marked used when it was claimed."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return active_user(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = db.session.scalar(
            select(Token).where(Token.refresh_token_hash == token_hash(refresh_token))
        )
        if row is None:
            return None
        if row.refresh_revoked_at is not None:
            flag_family_for_revocation(row.family_id)
            return None
        if row.refresh_expires_at is None or row.refresh_expires_at <= clock.now():
            return None
        return row

    def authenticate_user(self, refresh_token: Token) -> User | None:
        user = active_user(refresh_token.user_id)
        if user is None:
            raise InvalidGrantError("The grant is no longer valid.")
        return user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        now = clock.now()
        rotated: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(Token)
            .where(Token.id == refresh_token.id, Token.refresh_revoked_at.is_(None))
            .values(refresh_revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        if rotated.rowcount != 1:
            # Another request rotated this token first: a replay.
            flag_family_for_revocation(refresh_token.family_id)
            raise InvalidGrantError()
