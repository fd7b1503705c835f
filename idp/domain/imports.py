"""A CSV import of many people, run after the officer's confirmation was answered.

Each person is added in a transaction of their own (their account, roles, invitation email and
audit event together), and the job's counts move forward in that same transaction, so the
progress page never shows someone as added who is not. A person who can no longer be added
(someone else took the address since the preview, say) is recorded with the reason and the
import goes on. A job whose worker stopped mid-way is reported as stopped after
``STALLED_AFTER``; what it added stays added, and the same file uploaded again shows those
people as already members.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from idp import clock
from idp.domain import audit, management
from idp.domain.management import ManagementSettings, NewUser, Outcome
from idp.errors import DomainError, NotFound, Text
from idp.extensions import db
from idp.models import ImportJob, Organisation, User
from idp.security import random_token

STALLED_AFTER = timedelta(minutes=2)


def start(actor: User, org: Organisation, people: Sequence[NewUser]) -> ImportJob:
    """A job for ``people``, not yet started (the caller commits, then runs it)."""
    now = clock.now()
    job = ImportJob(
        id=random_token(16),
        organisation_id=org.id,
        actor_id=actor.id,
        total=len(people),
        done=0,
        invited=0,
        failed=0,
        results=[],
        started_at=now,
        updated_at=now,
    )
    db.session.add(job)
    audit.record(
        "management.import_started",
        actor=actor,
        target_type="import",
        target_id=job.id,
        organisation_id=org.id,
        people=len(people),
    )
    return job


def _advance(job_id: str, outcome: Outcome) -> None:
    """Count one person done, in the current transaction."""
    job = db.session.get(ImportJob, job_id)
    assert job is not None
    kind = "invited" if outcome.kind == "invited" else "failed"
    job.done += 1
    setattr(job, kind, getattr(job, kind) + 1)
    job.results = [
        *job.results,
        {
            "email": outcome.email,
            "name": outcome.name,
            "kind": kind,
            "message": Text.from_data(outcome.message).as_data(),
            "sub": outcome.sub,
        },
    ]
    job.updated_at = clock.now()


def run(job_id: str, people: Sequence[NewUser], settings: ManagementSettings) -> None:
    """Add each person in a transaction of their own, moving the job on with each."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.finished_at is not None:
        return
    org = db.session.get(Organisation, job.organisation_id)
    actor = db.session.get(User, job.actor_id) if job.actor_id is not None else None
    if org is None or actor is None:
        return
    org_id, actor_id = org.id, actor.id
    for person in people[job.done :]:
        try:
            outcome = management.add(actor, org, person, settings)
        except DomainError as exc:
            db.session.rollback()
            name = f"{person.given_name} {person.family_name}".strip()
            outcome = Outcome(person.email, name, "error", exc.text)
        _advance(job_id, outcome)
        db.session.commit()
        # Each commit expires what the session holds; reload the two we act with.
        org = db.session.get(Organisation, org_id)
        actor = db.session.get(User, actor_id)
        assert org is not None and actor is not None
    db.session.execute(
        update(ImportJob).where(ImportJob.id == job_id).values(finished_at=clock.now())
    )
    db.session.commit()


def get(org: Organisation, job_id: str) -> ImportJob:
    """The organisation's job with this id (any other id, or another organisation's: 404)."""
    job = db.session.get(ImportJob, job_id) if len(job_id) <= 32 else None
    if job is None or job.organisation_id != org.id:
        raise NotFound()
    return job


def state(job: ImportJob) -> str:
    """``finished``, ``running`` or ``stopped`` (no progress for STALLED_AFTER)."""
    if job.finished_at is not None:
        return "finished"
    if clock.now() - job.updated_at > STALLED_AFTER:
        return "stopped"
    return "running"


def progress(job: ImportJob) -> dict[str, Any]:
    """What the progress page's script polls for."""
    return {
        "state": state(job),
        "total": job.total,
        "done": job.done,
        "invited": job.invited,
        "failed": job.failed,
    }
