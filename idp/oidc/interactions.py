"""Interactions: an authorization request parked while the user signs in or consents.

The request's parameters are stored server-side; the browser's session cookie lists the
interaction ids it started, so an interaction can only be resumed by the browser that
started it. The sign-in pages know an interaction only by its id (``?ix=``).
"""

from __future__ import annotations

from datetime import timedelta

from flask import render_template, session
from sqlalchemy import delete, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.datastructures import MultiDict

from idp import clock
from idp.extensions import db
from idp.models import Interaction
from idp.security import random_token

SESSION_KEY = "ix"
MAX_PER_BROWSER = 5


def start(params: MultiDict[str, str], ttl_seconds: int) -> Interaction:
    now = clock.now()
    interaction = Interaction(
        id=random_token(18),
        params=[[k, v] for k, v in params.items(multi=True)],
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db.session.add(interaction)
    mine = [i for i in session.get(SESSION_KEY, []) if isinstance(i, str)]
    session[SESSION_KEY] = [*mine[-(MAX_PER_BROWSER - 1) :], interaction.id]
    return interaction


def get(interaction_id: str | None) -> Interaction | None:
    """The live interaction with this id, if this browser started it."""
    if not interaction_id or interaction_id not in session.get(SESSION_KEY, []):
        return None
    interaction = db.session.get(Interaction, interaction_id)
    if interaction is None or interaction.expires_at <= clock.now():
        return None
    return interaction


def params(interaction: Interaction) -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, v in interaction.params])


def mark_signed_in(interaction: Interaction, sid: str) -> None:
    """Record that the user signed in, in this interaction, with session ``sid``."""
    db.session.execute(
        update(Interaction.__table__)
        .where(Interaction.__table__.c.id == interaction.id)
        .values(authenticated_sid=sid)
    )
    set_committed_value(interaction, "authenticated_sid", sid)


def finish(interaction: Interaction) -> None:
    db.session.execute(delete(Interaction).where(Interaction.id == interaction.id))
    session[SESSION_KEY] = [i for i in session.get(SESSION_KEY, []) if i != interaction.id]


def login_page(
    interaction: Interaction | None, email: str, error: str | None, next_url: str | None = None
) -> str:
    """The sign-in page, for ``/login`` and for an authorization request that needs a sign-in
    (rendered in place: no redirect, no extra round trip)."""
    return render_template(
        "auth/login.html", email=email, error=error, interaction=interaction, next_url=next_url
    )


def login_hint(interaction: Interaction | None) -> str:
    if interaction is None:
        return ""
    return next((v for k, v in interaction.params if k == "login_hint"), "")[:254]
