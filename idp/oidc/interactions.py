"""Interactions: an authorization request parked while the user signs in, chooses the
organisation they act for, or consents.

The request's parameters are stored server-side; the browser's session cookie lists the
interaction ids it started, so an interaction can only be resumed by the browser that
started it. The sign-in pages know an interaction only by its id (``?ix=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template, session
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from idp import clock, languages
from idp.extensions import db
from idp.models import Interaction
from idp.page_policy import allow_upstream
from idp.security import random_token

SESSION_KEY = "ix"
MAX_PER_BROWSER = 5

_table = Interaction.__table__
_GET = select(_table).where(_table.c.id == bindparam("id"), _table.c.expires_at > bindparam("now"))
_SIGNED_IN = (
    update(_table).where(_table.c.id == bindparam("ix")).values(authenticated_sid=bindparam("sid"))
)
_CONSENTED = (
    update(_table).where(_table.c.id == bindparam("ix")).values(consented_at=bindparam("now"))
)
_CHOSE = (
    update(_table)
    .where(_table.c.id == bindparam("ix"))
    .values(organisation_chosen_at=bindparam("now"))
)
_DELETE = delete(_table).where(_table.c.id == bindparam("ix"))


@dataclass
class ParkedRequest:
    """An interaction as the pages and the authorization endpoint see it."""

    id: str
    params: list[list[str]]
    authenticated_sid: str | None = None
    consented_at: datetime | None = None
    organisation_chosen_at: datetime | None = None


def start(params: MultiDict[str, str], ttl_seconds: int) -> ParkedRequest:
    now = clock.now()
    parked = ParkedRequest(random_token(18), [[k, v] for k, v in params.items(multi=True)])
    db.session.execute(
        insert(_table),
        {
            "id": parked.id,
            "params": parked.params,
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        },
    )
    mine = [i for i in session.get(SESSION_KEY, []) if isinstance(i, str)]
    session[SESSION_KEY] = [*mine[-(MAX_PER_BROWSER - 1) :], parked.id]
    languages.remember_requested(parked.id, params.get("ui_locales"), ttl_seconds)
    return parked


def get(interaction_id: str | None) -> ParkedRequest | None:
    """The live interaction with this id, if this browser started it."""
    if not interaction_id or interaction_id not in session.get(SESSION_KEY, []):
        return None
    row = db.session.execute(_GET, {"id": interaction_id, "now": clock.now()}).first()
    if row is None:
        return None
    return ParkedRequest(
        row.id, row.params, row.authenticated_sid, row.consented_at, row.organisation_chosen_at
    )


def redirect_uris() -> list[str]:
    """The redirect URIs of the live requests this browser started: where a post on a sign-in
    page may lead (one query, none without any)."""
    ids = [i for i in session.get(SESSION_KEY, []) if isinstance(i, str)]
    if not ids:
        return []
    try:
        rows = db.session.execute(
            select(_table.c.params).where(_table.c.id.in_(ids), _table.c.expires_at > clock.now())
        ).all()
    except SQLAlchemyError:  # an error page while the database is away: our origin only
        return []
    return [v for (found,) in rows for k, v in found if k == "redirect_uri"]


def params(interaction: ParkedRequest) -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, v in interaction.params])


def mark_signed_in(interaction: ParkedRequest, sid: str) -> None:
    """Record that the user signed in, in this interaction, with session ``sid``."""
    db.session.execute(_SIGNED_IN, {"ix": interaction.id, "sid": sid})
    interaction.authenticated_sid = sid


def mark_consented(interaction: ParkedRequest) -> None:
    now = clock.now()
    db.session.execute(_CONSENTED, {"ix": interaction.id, "now": now})
    interaction.consented_at = now


def mark_organisation_chosen(interaction: ParkedRequest) -> None:
    """Record that the person chose, in this interaction, the organisation they act for."""
    now = clock.now()
    db.session.execute(_CHOSE, {"ix": interaction.id, "now": now})
    interaction.organisation_chosen_at = now


def finish(interaction: ParkedRequest) -> None:
    db.session.execute(_DELETE, {"ix": interaction.id})
    session[SESSION_KEY] = [i for i in session.get(SESSION_KEY, []) if i != interaction.id]
    languages.forget_requested(interaction.id)


def login_page(
    interaction: ParkedRequest | None,
    email: str,
    error: str | None,
    next_url: str | None = None,
    **extra: Any,
) -> str:
    """The sign-in page, for ``/login`` and for an authorization request that needs a sign-in
    (rendered in place: no redirect, no extra round trip). ``extra``: more for the template
    (``passkey_error``)."""
    settings = current_app.extensions["idp.settings"]
    for upstream in settings.upstreams:  # "Sign in with ..." posts, then leaves for it
        allow_upstream(upstream)
    return render_template(
        "auth/login.html",
        email=email,
        error=error,
        interaction=interaction,
        next_url=next_url,
        self_signup=settings.auth.self_signup,
        demo=settings.demo,
        upstreams=settings.upstreams,
        **extra,
    )


def login_hint(interaction: ParkedRequest | None) -> str:
    if interaction is None:
        return ""
    return next((v for k, v in interaction.params if k == "login_hint"), "")[:254]
