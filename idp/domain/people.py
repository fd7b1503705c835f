"""The console's People: finding a person and everything the support desk may know about them.

A person is found by any of their addresses (exact, verified or not) or by name within one
centre (``member_list``'s search). Their ``profile`` says what the desk needs to help them:
addresses, centres and the role names held there, status, which sign-in factors exist (never
the factors themselves: no secret, code, key or hash leaves this module), live sessions,
connected accounts, invitations waiting, and a page of what they did or what was done to them.

What the desk does to a person is ``idp.domain.support``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from idp.catalogue import Catalogue
from idp.domain import audit, audit_search, connected, joining, passkeys, sessions, totp, users
from idp.domain.audit import Position
from idp.domain.member_list import ListQuery, Row, list_members
from idp.extensions import db
from idp.models import AuthSession, Organisation, User

SEARCH_LIMIT = 20
EVENTS_PAGE = 20


def find_by_address(address: str) -> User | None:
    """The account holding ``address`` (any of its addresses, verified or not), as signing in
    finds it (``users.find_by_email``: any stored form, one index lookup)."""
    return users.find_by_email(address)


def find_by_sub(sub: str) -> User | None:
    """The account with subject identifier ``sub``."""
    return db.session.scalar(select(User).where(User.sub == sub))


def search_in_centre(org: Organisation, text: str, limit: int = SEARCH_LIMIT) -> list[Row]:
    """The members of ``org`` whose name or address matches ``text`` (My Organisation's search:
    one centre's members, never the whole service), first ``limit`` by name."""
    found = list_members(org, ListQuery(search=text, per_page=max(1, min(limit, 100))))
    return found.rows


@dataclass(frozen=True)
class Address:
    address: str
    verified: bool
    primary: bool


@dataclass(frozen=True)
class Place:
    """A centre the person belongs to, and what they hold there (role names, not keys)."""

    code: str
    name: str
    roles: list[str]
    suspended: bool
    exams_officer: bool


@dataclass(frozen=True)
class PasskeyFacts:
    """What may be said of a passkey: never its credential or public key."""

    id: int
    name: str
    synced: bool
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Waiting:
    """An invitation to join a centre that the person has not answered yet."""

    code: str
    name: str
    sent_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Events:
    """A page of the person's events, newest first; ``older`` where the next page starts."""

    rows: list[Any]
    older: Position | None


@dataclass(frozen=True)
class Profile:
    user: User
    status: str
    staff_role: str | None
    addresses: list[Address]
    places: list[Place]
    authenticator_app: bool
    passkeys: list[PasskeyFacts]
    recovery_codes_left: int
    sessions: list[AuthSession]
    connected: list[str]
    waiting: list[Waiting]
    events: Events


def _places(user: User, catalogue: Catalogue) -> list[Place]:
    by_key = catalogue.roles_by_key
    return sorted(
        (
            Place(
                code=m.organisation.code,
                name=m.organisation.name,
                roles=sorted(by_key[k].name if k in by_key else k for k in m.role_keys),
                suspended=m.is_suspended,
                exams_officer=m.organisation.exams_officer_id == user.id,
            )
            for m in user.memberships
        ),
        key=lambda p: p.code,
    )


def _event_paths(user: User) -> list[Any]:
    """What ``user`` did (``ix_audit_events_actor_at``), and what was done to them by anyone
    else (``ix_audit_events_target_at``): each event once, as the console's audit log reads a
    person's events."""
    return audit_search.paths(audit_search.Search(person=user))


def events(user: User, *, before: Position | None = None, size: int = EVENTS_PAGE) -> Events:
    """One page of the person's events, newest first, from ``before`` on: two index ranges of
    ``size`` rows each, however long their history."""
    paths = _event_paths(user)
    if before is not None:
        paths = [audit.older_than(p, before) for p in paths]
    rows = list(db.session.execute(audit.newest_first(paths, size + 1)).all())
    older = Position(rows[size - 1].at, rows[size - 1].id) if len(rows) > size else None
    return Events(rows[:size], older)


def profile(
    user: User,
    catalogue: Catalogue,
    *,
    idle_ttl: int | None = None,
    before: Position | None = None,
) -> Profile:
    """Everything the console shows of ``user`` (see the module's docstring)."""
    return Profile(
        user=user,
        status=str(user.status),
        staff_role=user.staff_role,
        addresses=sorted(
            (Address(e.address, e.verified, e.is_primary) for e in user.emails),
            key=lambda a: (not a.primary, a.address),
        ),
        places=_places(user, catalogue),
        authenticator_app=user.has_totp,
        passkeys=[
            PasskeyFacts(p.id, p.name, p.backup_eligible, p.created_at, p.last_used_at)
            for p in passkeys.of(user)
        ],
        recovery_codes_left=totp.remaining_recovery_codes(user),
        sessions=sessions.live_for(user, idle_ttl),
        connected=sorted(connected.connections(user)),
        waiting=[
            Waiting(i.organisation.code, i.organisation.name, i.sent_at, i.expires_at)
            for i in joining.waiting_for(user)
        ],
        events=events(user, before=before),
    )
