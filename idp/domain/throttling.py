"""The per-account back-off on wrong passwords: a few free tries, then each try must wait
twice as long as the one before, up to a ceiling. Never a permanent lock, so nobody can shut
an exams officer out for good; counted from the audit log, so every instance agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, User

FAILED = "sign_in.failed"
SUCCEEDED = "sign_in.succeeded"
WINDOW = timedelta(days=1)


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


def wait_remaining(user: User | None, policy: Backoff) -> float:
    """Seconds before ``user`` may try a password again (0: now). For no user the same
    queries run and find nothing, so an unknown address costs what a known one does."""
    user_id = user.id if user is not None else -1
    table = AuditEvent.__table__
    since: datetime = clock.now() - WINDOW
    last_success = db.session.scalar(
        select(func.max(table.c.at)).where(
            table.c.actor_user_id == user_id, table.c.action == SUCCEEDED, table.c.at >= since
        )
    )
    failures, last_failure = db.session.execute(
        select(func.count(), func.max(table.c.at)).where(
            table.c.actor_user_id == user_id,
            table.c.action == FAILED,
            table.c.at > (last_success or since),
        )
    ).one()
    delay = delay_after(int(failures or 0), policy)
    if not delay or last_failure is None:
        return 0.0
    return max(0.0, (last_failure + timedelta(seconds=delay) - clock.now()).total_seconds())
