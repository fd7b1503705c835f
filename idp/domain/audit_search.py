"""The service-wide audit log, for the console: every event, filtered by person, centre, kind
of event, who acted and when, a page at a time.

Millions of events: whatever the filters, a page reads one index range in the log's order,
(at, id), per path (``paths``), never the table. The most selective filter leads: a person
(two paths: events by them, ``ix_audit_events_actor_at``, and about them,
``ix_audit_events_target_at``), else who acted (``ix_audit_events_actor_at``), else the centre
(``ix_audit_events_organisation_at``), else the kind of event (one path per action of that
kind, ``ix_audit_events_action_at``), else the time (``ix_audit_events_at_id``). The other
filters narrow the leading range. Pages and counts are those of ``audit.page_of``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text

from idp.domain import audit
from idp.domain.audit import Page, Position
from idp.extensions import db
from idp.models import AuditEvent, Organisation, User

# How many different actions the skip scan reads at most (the service records fewer than 100).
MAX_ACTIONS = 500

# Every distinct action recorded, each found by one seek of ``ix_audit_events_action_at``
# (a skip scan: the next action after the last one found), never by reading the events.
_DISTINCT_ACTIONS = text(
    "WITH RECURSIVE found(action, n) AS ("
    " SELECT (SELECT min(action) FROM audit_events), 1"
    " UNION ALL"
    " SELECT (SELECT min(action) FROM audit_events WHERE action > found.action), n + 1"
    " FROM found WHERE found.action IS NOT NULL AND n < :most"
    ") SELECT action FROM found WHERE action IS NOT NULL"
)


@dataclass(frozen=True)
class Search:
    """What the console's audit log is filtered by; every field may be left empty."""

    person: User | None = None  # events by or about this person
    organisation_id: int | None = None  # events at this centre
    action: str = ""  # a prefix of the action ("staff.", "sign_in.failed")
    actor: User | None = None  # events caused by this person (a staff member, or anyone)
    since: datetime | None = None  # from this time
    until: datetime | None = None  # before this time


def find_person(address: str) -> User | None:
    """The account that has ``address`` (any of its addresses), or None."""
    from idp.domain import users

    return users.find_by_email(address.strip()[:320]) if address.strip() else None


def find_centre(code: str) -> Organisation | None:
    """The centre whose number is ``code`` (as typed, any case), or None."""
    wanted = code.strip().upper()[:32]
    if not wanted:
        return None
    return db.session.scalar(select(Organisation).where(Organisation.code == wanted))


def actions(prefix: str) -> list[str]:
    """The actions ever recorded that start with ``prefix``, in order (a skip scan)."""
    found = db.session.scalars(_DISTINCT_ACTIONS, {"most": MAX_ACTIONS})
    return [a for a in found if a.startswith(prefix)]


def _narrowed(query: Any, s: Search, lead: str, kinds: list[str] | None) -> Any:
    """``query`` narrowed by every filter but the one that leads it."""
    table = AuditEvent.__table__
    if kinds is not None and lead != "action":
        query = query.where(table.c.action.in_(kinds))
    if s.actor is not None and lead != "actor":
        query = query.where(table.c.actor_user_id == s.actor.id)
    if s.organisation_id is not None and lead != "centre":
        query = query.where(table.c.organisation_id == s.organisation_id)
    if s.since is not None:
        query = query.where(table.c.at >= s.since)
    if s.until is not None:
        query = query.where(table.c.at < s.until)
    return query


def paths(s: Search) -> list[Any]:
    """The events matching ``s`` as selects to be joined by UNION ALL, each one index range
    ordered by (at, id) (see the module's docstring); none when nothing can match."""
    table = AuditEvent.__table__
    kinds = actions(s.action) if s.action else None
    if kinds == []:
        return []
    # Bounded in time even when no date is asked for: each path is then a range of its index's
    # (at, id) part, read in that order. Without it SQLite, from its statistics, may match an
    # equality alone and sort what it found (cheap for the average person, not for the busy).
    every = select(table).where(table.c.at < audit.OPEN)
    if s.person is not None:
        by = _narrowed(every.where(table.c.actor_user_id == s.person.id), s, "person", kinds)
        about = _narrowed(
            every.where(
                table.c.target_id == s.person.sub,
                # Counted once: what they did to themselves is in the first path.
                or_(table.c.actor_user_id.is_(None), table.c.actor_user_id != s.person.id),
            ),
            s,
            "person",
            kinds,
        )
        return [by, about]
    if s.actor is not None:
        return [_narrowed(every.where(table.c.actor_user_id == s.actor.id), s, "actor", kinds)]
    if s.organisation_id is not None:
        here = every.where(table.c.organisation_id == s.organisation_id)
        return [_narrowed(here, s, "centre", kinds)]
    if kinds is not None:
        return [
            _narrowed(every.where(table.c.action == kind), s, "action", kinds) for kind in kinds
        ]
    return [_narrowed(every, s, "time", kinds)]


def page(
    s: Search,
    *,
    size: int = 50,
    before: Position | None = None,
    after: Position | None = None,
    oldest: bool = False,
) -> Page:
    """One page of the service's events matching ``s``, newest first (placed as
    ``audit.page`` places a centre's): every page costs the same, the count stops at
    ``audit.COUNT_CAP``."""
    return audit.page_of(paths(s), size=size, before=before, after=after, oldest=oldest)


def stream(s: Search, batch: int = 500) -> Iterator[Any]:
    """Every event matching ``s``, oldest first, read in batches by position: each batch one
    range of each path's index, so a download of millions of events holds one batch at once."""
    found = paths(s)
    last: Position | None = None
    while found:
        bounded = found if last is None else [audit.newer_than(p, last) for p in found]
        rows = db.session.execute(audit.newest_first(bounded, batch, oldest=True)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = Position(rows[-1].at, rows[-1].id)


def organisation_codes(rows: list[Any]) -> dict[int, str]:
    """The centre number of each organisation the ``rows`` (events) name, by one query."""
    ids = {r.organisation_id for r in rows if r.organisation_id}
    if not ids:
        return {}
    found = db.session.execute(
        select(Organisation.id, Organisation.code).where(Organisation.id.in_(ids))
    )
    return {i: code for i, code in found}


__all__ = ["Page", "Position", "Search", "find_centre", "find_person", "page", "stream"]
