"""Revoking tokens: by family (replay), by sign-in session (logout), by user (password reset)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, update

from idp import clock
from idp.extensions import db
from idp.models import Token


def revoke_where(*conditions: ColumnElement[bool]) -> int:
    """Revoke the access and refresh tokens matching ``conditions``."""
    return _revoke(*conditions)


def _revoke(*conditions: ColumnElement[bool]) -> int:
    now = clock.now()
    access = db.session.execute(
        update(Token)
        .where(Token.access_revoked_at.is_(None), *conditions)
        .values(access_revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    refresh = db.session.execute(
        update(Token)
        .where(
            Token.refresh_token_hash.is_not(None), Token.refresh_revoked_at.is_(None), *conditions
        )
        .values(refresh_revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(access.rowcount, refresh.rowcount)  # type: ignore[attr-defined]


def revoke_family(family_id: str) -> int:
    """Revoke every access and refresh token descending from one authorization code."""
    return _revoke(Token.family_id == family_id)


def revoke_for_session(sid: str) -> int:
    """Revoke the tokens bound to a sign-in session, except offline (``offline_access``) grants."""
    return _revoke(Token.sid == sid, ~Token.scope.contains("offline_access"))


def revoke_for_user(user_id: int) -> int:
    """Revoke every token the user holds, offline grants included."""
    return _revoke(Token.user_id == user_id)


def revoke_for_organisation(user_id: int, organisation_id: int) -> int:
    """Revoke the user's tokens issued while acting for one organisation (removed from it)."""
    return _revoke(Token.user_id == user_id, Token.organisation_id == organisation_id)
