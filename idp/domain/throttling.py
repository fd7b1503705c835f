"""The per-account back-off on wrong passwords: a few free tries, then each try must wait
twice as long as the one before, up to a ceiling. Never a permanent lock, so nobody can shut
an exams officer out for good; counted from the audit log, so every instance agrees.

A stranger cannot keep the owner out either (OWASP's "device cookies", NIST SP 800-63B
§5.2.2): a browser that has signed in to the account before (its device cookie, see
``idp.web.devices``) counts only the wrong passwords typed in that very browser, so failures
from anywhere else, another known browser included, never hold up its right password; a new
browser counts them all. A new password
(a reset, *Set password*, a change) starts the count again, as a success does, and so does the
support desk clearing the back-off from the console (``BACKOFF_CLEARED`` about the account).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, User

FAILED = "sign_in.failed"
# In a failure's details: typed in a browser that has signed in to the account before, whose
# device id has this digest.
KNOWN_DEVICE = "known_device"
SUCCEEDED = "sign_in.succeeded"
# Recorded by the console (``idp.domain.support.clear_backoff``) about the account.
BACKOFF_CLEARED = "staff.backoff_cleared"
WINDOW = timedelta(days=1)

_events = AuditEvent.__table__
# Both read the index on (actor_user_id, action, at): the newest success is its last entry in
# the window (ORDER BY ... LIMIT 1, not MAX, which PostgreSQL may answer by reading the whole
# window), and the failures since are few, since each one must wait longer than the last.
_LAST_SUCCESS = (
    select(_events.c.at)
    .where(
        _events.c.actor_user_id == bindparam("user_id"),
        _events.c.action == SUCCEEDED,
        _events.c.at >= bindparam("since"),
    )
    .order_by(_events.c.at.desc())
    .limit(1)
)
# The newest clearing about the account: ``ix_audit_events_action_target_at``, one entry.
_LAST_CLEARED = (
    select(_events.c.at)
    .where(
        _events.c.action == BACKOFF_CLEARED,
        _events.c.target_id == bindparam("sub"),
        _events.c.at >= bindparam("since"),
    )
    .order_by(_events.c.at.desc())
    .limit(1)
)
_FAILURES = select(_events.c.at, _events.c.details).where(
    _events.c.actor_user_id == bindparam("user_id"),
    _events.c.action == FAILED,
    _events.c.at > bindparam("after"),
)


@dataclass(frozen=True)
class Backoff:
    free_failures: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 900.0


def delay_after(failures: int, policy: Backoff) -> float:
    """Seconds to wait after ``failures`` wrong passwords in a row."""
    if failures < policy.free_failures:
        return 0.0
    doublings = min(failures - policy.free_failures, 32)
    return float(min(policy.max_seconds, policy.base_seconds * 2**doublings))


def wait_remaining(user: User | None, policy: Backoff, *, known_device: str | None = None) -> float:
    """Seconds before ``user`` may try a password again (0: now). For no user the same
    queries run and find nothing, so an unknown address costs what a known one does.

    ``known_device``: the try comes from a browser that has signed in to this account before,
    with this device digest, so only the failures typed in it count (see the module's
    docstring)."""
    user_id = user.id if user is not None else -1
    since: datetime = clock.now() - WINDOW
    success = db.session.execute(_LAST_SUCCESS, {"user_id": user_id, "since": since}).first()
    cleared = db.session.execute(
        _LAST_CLEARED, {"sub": user.sub if user is not None else "-", "since": since}
    ).first()
    starts = [since, success.at if success is not None else None]
    starts.append(cleared.at if cleared is not None else None)
    if user is not None:
        starts.append(user.password_changed_at)
    after = max(start for start in starts if start is not None)
    failures = [
        row.at
        for row in db.session.execute(_FAILURES, {"user_id": user_id, "after": after})
        if known_device is None or (row.details or {}).get(KNOWN_DEVICE) == known_device
    ]
    delay = delay_after(len(failures), policy)
    if not delay:
        return 0.0
    return max(0.0, (max(failures) + timedelta(seconds=delay) - clock.now()).total_seconds())
