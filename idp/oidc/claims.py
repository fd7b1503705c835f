"""What a relying party learns about a user: the one contract with relying parties.

Scopes and the claims they release (README, "Claims"):

* ``openid``         ``sub`` (stable and opaque, never the email address)
* ``profile``        ``name``, ``given_name``, ``family_name``, ``updated_at``
* ``email``          ``email`` (primary address), ``email_verified``
* ``roles``          ``org`` (the organisation the user is acting for: code, name, brand) and
                     ``roles`` (the roles held there, for this client's services only)
* ``organisations``  ``organisations``: every membership, each with the same role filter

A ``claims`` request parameter (OIDC Core 5.5) may ask for any of these claims by name for
the ID token or the userinfo response, whatever the scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from idp.catalogue import Catalogue
from idp.extensions import db
from idp.models import Client, Membership, Organisation, User

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "updated_at"),
    "email": ("email", "email_verified"),
    "roles": ("org", "roles"),
    "organisations": ("organisations",),
}
SUPPORTED_CLAIMS = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
    | {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
)
SUPPORTED_SCOPES = ["openid", *SCOPE_CLAIMS, "offline_access"]


def requested_claim_names(
    scopes: set[str], claims_request: dict[str, Any] | None, target: str
) -> set[str]:
    """Names of the claims to release to ``target`` ("id_token" or "userinfo")."""
    names = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    if claims_request and isinstance(claims_request.get(target), dict):
        names |= set(claims_request[target]) & set(SUPPORTED_CLAIMS)
    return names


def user_claims(
    user: User,
    names: set[str],
    client: Client,
    organisation_id: int | None,
    catalogue: Catalogue,
) -> dict[str, Any]:
    """The requested claims of ``user`` as ``client`` may see them."""
    claims: dict[str, Any] = {"sub": user.sub}
    if "name" in names:
        claims["name"] = user.name
    if "given_name" in names:
        claims["given_name"] = user.given_name
    if "family_name" in names:
        claims["family_name"] = user.family_name
    if "updated_at" in names:
        claims["updated_at"] = int(user.updated_at.timestamp())
    if names & {"email", "email_verified"}:
        primary = user.primary_email
        if primary is not None:
            claims["email"] = primary.address
            claims["email_verified"] = primary.verified
    if names & {"org", "roles", "organisations"}:
        visible = catalogue.roles_for_services(frozenset(client.service_keys))
        memberships = _memberships(user)
        if names & {"org", "roles"}:
            acting = next((m for m in memberships if m.organisation_id == organisation_id), None)
            if acting is not None:
                claims["org"] = _org(acting.organisation)
                claims["roles"] = sorted(acting.role_keys & visible)
            else:
                claims["roles"] = []
        if "organisations" in names:
            claims["organisations"] = [
                {**_org(m.organisation), "roles": sorted(m.role_keys & visible)}
                for m in sorted(memberships, key=lambda m: m.organisation.code)
            ]
    return claims


def default_organisation_id(user: User, client: Client, catalogue: Catalogue) -> int | None:
    """The organisation a user acts for when they have not chosen one: the first (by centre
    number) where they hold a role for this client's services, else their first membership."""
    memberships = sorted(_memberships(user), key=lambda m: m.organisation.code)
    if not memberships:
        return None
    visible = catalogue.roles_for_services(frozenset(client.service_keys))
    preferred = next((m for m in memberships if m.role_keys & visible), memberships[0])
    return preferred.organisation_id


def _memberships(user: User) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.user_id == user.id)
            .options(selectinload(Membership.organisation), selectinload(Membership.role_rows))
        ).all()
    )


def _org(organisation: Organisation) -> dict[str, str]:
    return {"code": organisation.code, "name": organisation.name, "brand": organisation.brand}
