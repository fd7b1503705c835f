"""Clean-up of what has expired: codes, tokens, sign-in sessions, parked authorization
requests, verification codes, changes of address never confirmed, used client assertions,
initial access tokens, the summaries of CSV imports a week after they last moved, invitations to
join a month after they were answered, and the throttles' expired counts.

Every statement is a plain ``DELETE ... WHERE <expired before a cutoff>``: running it from cron
on several instances at once is safe (the second run finds nothing), and nothing still able to
matter is touched — a rotated refresh token is kept until its grant's own expiry, so its replay
is still caught, and a used authorization code until every token issued from it has expired.

It deletes in batches of ``BATCH`` rows, each in a transaction of its own: on SQLite a delete
holds the database's one write lock until it commits, so a sign-in waits at most for one batch,
never for a million expired tokens at once (and PostgreSQL keeps its transactions short).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, inspect, or_, select

from idp import clock
from idp.config import Settings
from idp.extensions import db
from idp.models import (
    AddressChange,
    AuthorizationCode,
    AuthSession,
    ClientAssertion,
    ImportJob,
    Interaction,
    JoinInvitation,
    RegistrationToken,
    ThrottleCount,
    Token,
    VerificationCode,
)

GRACE = timedelta(days=1)
# Rows per transaction: a few milliseconds of the write lock each.
BATCH = 2000
# An import's summary names the people it added; the audit log keeps the record after this.
KEEP_IMPORTS = timedelta(days=7)
# An invitation to join, once accepted, declined or withdrawn (its events carry its typed name).
# One never answered stays, shown as expired, as long as an invited member who never activated.
KEEP_ANSWERED_INVITATIONS = timedelta(days=30)


def purge(settings: Settings, batch: int = BATCH) -> dict[str, int]:
    """Delete what expired before ``now - GRACE`` (codes: before their tokens could have),
    ``batch`` rows per transaction, committing each; returns how many rows of each kind went."""
    now = clock.now()
    cutoff = now - GRACE
    codes_cutoff = now - timedelta(seconds=settings.oidc.refresh_token_ttl) - GRACE
    expired: dict[str, tuple[Any, ColumnElement[bool]]] = {
        "authorization_codes": (AuthorizationCode, AuthorizationCode.expires_at < codes_cutoff),
        "tokens": (
            Token,
            and_(
                Token.access_expires_at < cutoff,
                or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff),
            ),
        ),
        "sessions": (
            AuthSession,
            or_(AuthSession.expires_at < cutoff, AuthSession.ended_at < cutoff),
        ),
        "interactions": (Interaction, Interaction.expires_at < cutoff),
        "verification_codes": (VerificationCode, VerificationCode.expires_at < cutoff),
        "address_changes": (AddressChange, AddressChange.expires_at < cutoff),
        "client_assertions": (ClientAssertion, ClientAssertion.expires_at < cutoff),
        "import_jobs": (ImportJob, ImportJob.updated_at < now - KEEP_IMPORTS),
        "join_invitations": (
            JoinInvitation,
            JoinInvitation.answered_at < now - KEEP_ANSWERED_INVITATIONS,
        ),
        "registration_tokens": (
            RegistrationToken,
            or_(RegistrationToken.expires_at < cutoff, RegistrationToken.uses_left <= 0),
        ),
        # The throttles' counts (rate_limits.storage_uri = "database://"), in epoch seconds.
        "throttle_counts": (ThrottleCount, ThrottleCount.expires_at < cutoff.timestamp()),
    }
    return {name: _in_batches(model, where, batch) for name, (model, where) in expired.items()}


def _in_batches(model: Any, where: ColumnElement[bool], batch: int) -> int:
    """Delete the rows of ``model`` matching ``where``, ``batch`` at a time (chosen by primary
    key), committing after each; how many went."""
    (key,) = inspect(model).primary_key
    total = 0
    while True:
        chosen = select(key).where(where).limit(batch)
        result = db.session.execute(
            delete(model).where(key.in_(chosen)).execution_options(synchronize_session=False)
        )
        db.session.commit()
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch:
            return total
