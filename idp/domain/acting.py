"""The organisation a person acts for: one per sign-in session, never picked by order.

A person may act for each organisation they belong to and, when they hold User Management at
a Cambridge Associate, for each of its associate centres (its officer manages them as their
own). They choose with *Change Organisation* (or at a service's sign-in, the organisation
chooser); the choice is kept on the sign-in session (``AuthSession.organisation_id``) and the
home tiles, My Organisation and the ``org``/``roles`` claims all follow it.

A person with exactly one organisation acts for it without choosing. A person with several
acts for none until they choose: nothing is derived from the order of centre numbers.
"""

from __future__ import annotations

from idp.catalogue import Catalogue
from idp.domain import audit, management, sessions
from idp.errors import N_, NotFound
from idp.models import AuthSession, Membership, Organisation, User


def choices(user: User, catalogue: Catalogue) -> list[Organisation]:
    """Every organisation ``user`` may act for, by centre number (for display only): their
    memberships and the associate centres of the Cambridge Associates they manage."""
    found = {m.organisation_id: m.organisation for m in user.memberships}
    for org in management.manageable(user, catalogue):
        found.setdefault(org.id, org)
    return sorted(found.values(), key=lambda o: o.code)


def current(user: User, auth_session: AuthSession, catalogue: Catalogue) -> Organisation | None:
    """The organisation ``user`` acts for in ``auth_session``: the one chosen, while they may
    still act for it; else their only one; else None (they have several and must choose, or
    none at all)."""
    options = choices(user, catalogue)
    chosen = next((o for o in options if o.id == auth_session.organisation_id), None)
    if chosen is not None:
        return chosen
    return options[0] if len(options) == 1 else None


def choose(user: User, auth_session: AuthSession, code: str, catalogue: Catalogue) -> Organisation:
    """*Change Organisation*: act for the organisation with centre number ``code`` in this
    session. Any organisation ``user`` may not act for is NotFound, and nothing changes."""
    wanted = (code or "").strip().upper()
    org = next((o for o in choices(user, catalogue) if o.code == wanted), None)
    if org is None:
        raise NotFound(N_("There is no such organisation, or you do not act for it."))
    sessions.set_organisation(auth_session, org.id)
    audit.record("session.organisation_changed", actor=user, organisation_id=org.id)
    return org


def membership(user: User, org: Organisation | None) -> Membership | None:
    """``user``'s membership of ``org`` (None for an associate centre they only manage)."""
    if org is None:
        return None
    return next((m for m in user.memberships if m.organisation_id == org.id), None)
