"""Accounts at other providers connected to a person's account, and signing in with them.

Sign-in matches on the upstream's stable subject only. An upstream identity that is connected
to no account never signs anyone in, whatever email address it carries: its owner signs in
with their password and connects it from *Account -> Connected accounts*, which asks for
recent proof that they are who the account says.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from idp import clock
from idp.domain import audit, mailing
from idp.domain.mailing import Mail
from idp.errors import N_, Conflict, InvalidInput, NotFound
from idp.extensions import db
from idp.models import ConnectedAccount, User


@dataclass(frozen=True)
class Identity:
    """Who the upstream says signed in there."""

    upstream: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


def connections(user: User) -> dict[str, ConnectedAccount]:
    rows = db.session.scalars(select(ConnectedAccount).where(ConnectedAccount.user_id == user.id))
    return {row.upstream: row for row in rows}


def account_for(identity: Identity) -> tuple[User, ConnectedAccount] | None:
    row = db.session.execute(
        select(User, ConnectedAccount)
        .join(ConnectedAccount, ConnectedAccount.user_id == User.id)
        .where(
            ConnectedAccount.upstream == identity.upstream,
            ConnectedAccount.subject == identity.subject,
        )
    ).first()
    return (row.User, row.ConnectedAccount) if row is not None else None


def signed_in_with(connection: ConnectedAccount) -> None:
    connection.last_used_at = clock.now()


def link(user: User, identity: Identity, upstream_name: str) -> ConnectedAccount:
    """Connect ``identity`` to ``user``: it must be connected to no one, and the user must not
    have another account of the same upstream connected."""
    found = account_for(identity)
    if found is not None and found[0].id == user.id:
        raise InvalidInput(
            N_("This %(provider)s account is already connected to yours."), provider=upstream_name
        )
    if found is not None:
        raise Conflict(
            N_(
                "This %(provider)s account is connected to another My Cambridge account."
                " Disconnect it there first."
            ),
            provider=upstream_name,
        )
    if identity.upstream in connections(user):
        raise Conflict(
            N_("Another %(provider)s account is connected to yours. Disconnect it first."),
            provider=upstream_name,
        )
    connection = ConnectedAccount(
        user_id=user.id,
        upstream=identity.upstream,
        subject=identity.subject,
        email=identity.email,
        display_name=identity.name,
        created_at=clock.now(),
    )
    db.session.add(connection)
    db.session.flush()
    audit.record(
        "user.account_connected",
        actor=user,
        target_type="user",
        target_id=user.sub,
        upstream=identity.upstream,
    )
    _tell(user, upstream_name, connected=True)
    return connection


def unlink(user: User, upstream: str, upstream_name: str) -> None:
    """Disconnect; refused when it would leave the account with no way to sign in."""
    mine = connections(user)
    connection = mine.get(upstream)
    if connection is None:
        raise NotFound(N_("No %(provider)s account is connected to yours."), provider=upstream_name)
    if user.password_hash is None and len(mine) == 1:
        raise InvalidInput(
            N_("Set a password before disconnecting %(provider)s: it is your only way to sign in."),
            provider=upstream_name,
        )
    db.session.delete(connection)
    audit.record(
        "user.account_disconnected",
        actor=user,
        target_type="user",
        target_id=user.sub,
        upstream=upstream,
    )
    _tell(user, upstream_name, connected=False)


def _tell(user: User, upstream_name: str, *, connected: bool) -> None:
    if user.email:
        mailing.send(
            Mail(
                "connected_account",
                user.email,
                {"name": user.name, "upstream": upstream_name, "connected": connected},
            )
        )
