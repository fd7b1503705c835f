"""Clean-up of what has expired: codes, tokens, sign-in sessions, parked authorization
requests, verification codes, changes of address never confirmed, used client assertions,
initial access tokens, the summaries of CSV imports a week after they last moved, invitations to
join a month after they were answered, and the throttles' expired counts.

Every statement is a plain ``DELETE ... WHERE <expired before a cutoff>``: running it from cron
on several instances at once is safe (the second run finds nothing), and nothing still able to
matter is touched — a rotated refresh token is kept until its grant's own expiry, so its replay
is still caught, and a used authorization code until every token issued from it has expired.

It deletes in batches, each in a transaction of its own. PostgreSQL locks only the rows a
batch deletes: ``BATCH`` rows keep its transactions short. SQLite has one write lock for the
whole database, held by a batch until it commits, and a writer waiting for it (a sign-in)
sleeps between its tries, up to 100 ms apart: so on SQLite a batch is ``SQLITE_BATCH`` rows
(about 15 ms of the lock with the tokens table's indexes) and the purge then pauses
``SQLITE_PAUSE`` so that waiting writers go first. Each batch's pages go to SQLite's
write-ahead log, and the commit that takes the log past 1,000 pages copies them into the
database file (a checkpoint: 60-90 ms for three batches' deletions from the tokens table);
left to chance that is a sign-in's commit, so the purge checkpoints its own batch after each
commit, outside the write lock (``PASSIVE``: no reader or writer waits for it). A sign-in
during a purge of a million expired tokens then waits tens of milliseconds at most
(bench/scale.py measures it); the purge takes minutes instead of seconds, which a nightly job
can afford.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, inspect, or_, select, text

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
    PasskeyChallenge,
    RegistrationToken,
    ThrottleCount,
    Token,
    VerificationCode,
)

GRACE = timedelta(days=1)
# Rows per transaction, and on SQLite the pause after each (see the module's docstring).
BATCH = 2000
SQLITE_BATCH = 100
SQLITE_PAUSE = 0.05
# An import's summary names the people it added; the audit log keeps the record after this.
KEEP_IMPORTS = timedelta(days=7)
# An invitation to join, once accepted, declined or withdrawn (its events carry its typed name).
# One never answered stays, shown as expired, as long as an invited member who never activated.
KEEP_ANSWERED_INVITATIONS = timedelta(days=30)


def purge(
    settings: Settings, batch: int | None = None, pause: float | None = None
) -> dict[str, int]:
    """Delete what expired before ``now - GRACE`` (codes: before their tokens could have),
    ``batch`` rows per transaction, committing each and then pausing ``pause`` seconds (by
    default, what suits the database: see the module's docstring); returns how many rows of
    each kind went."""
    sqlite = db.engine.dialect.name == "sqlite"
    if batch is None:
        batch = SQLITE_BATCH if sqlite else BATCH
    if pause is None:
        pause = SQLITE_PAUSE if sqlite else 0.0
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
        "passkey_challenges": (PasskeyChallenge, PasskeyChallenge.expires_at < cutoff),
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
    return {
        name: _in_batches(model, where, batch, pause) for name, (model, where) in expired.items()
    }


def _in_batches(model: Any, where: ColumnElement[bool], batch: int, pause: float) -> int:
    """Delete the rows of ``model`` matching ``where``, ``batch`` at a time (chosen by primary
    key), committing after each and pausing ``pause`` seconds before the next; how many went."""
    (key,) = inspect(model).primary_key
    sqlite = db.engine.dialect.name == "sqlite"
    total = 0
    while True:
        chosen = select(key).where(where).limit(batch)
        result = db.session.execute(
            delete(model).where(key.in_(chosen)).execution_options(synchronize_session=False)
        )
        db.session.commit()
        if sqlite:  # no transaction: SQLite begins one before a write only
            db.session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch:
            return total
        if pause:
            time.sleep(pause)  # a real pause: other processes' writers take the lock meanwhile
