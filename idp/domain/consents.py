"""Consents: what a user allowed a third-party service to receive, and taking it back."""

from __future__ import annotations

from sqlalchemy import select

from idp.domain import audit, tokens
from idp.errors import N_, NotFound
from idp.extensions import db
from idp.models import Client, Consent, Token, User


def for_user(user: User) -> list[tuple[Consent, Client]]:
    """The user's consents with their clients, newest first."""
    rows = db.session.execute(
        select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.user_id == user.id)
        .order_by(Consent.granted_at.desc())
    ).all()
    return [(row.Consent, row.Client) for row in rows]


def allows(user: User, client_id: str, scope: str) -> bool:
    """Whether the user consented to a third-party service receiving ``scope``."""
    granted = db.session.scalar(
        select(Consent.scope).where(Consent.user_id == user.id, Consent.client_id == client_id)
    )
    return granted is not None and scope in granted.split()


def revoke(user: User, client_id: str) -> None:
    """Forget the consent and revoke every token the service holds for the user: it must ask
    again before it learns anything more."""
    consent = db.session.scalar(
        select(Consent).where(Consent.user_id == user.id, Consent.client_id == client_id)
    )
    if consent is None:
        raise NotFound(N_("That service has no access to your account."))
    db.session.delete(consent)
    tokens.revoke_where(Token.user_id == user.id, Token.client_id == client_id)
    audit.record("user.consent_revoked", actor=user, target_type="client", target_id=client_id)
