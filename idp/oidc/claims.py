"""What a relying party learns about a user: the one contract with relying parties.

Scopes and the claims they release (README, "Claims"):

* ``openid``         ``sub`` (stable and opaque, never the email address)
* ``profile``        ``name``, ``given_name``, ``family_name``, ``updated_at``, ``locale`` (the
                     language of our pages the user last signed in with, once there is one)
* ``email``          ``email`` (primary address), ``email_verified``
* ``roles``          ``org`` (the organisation the user is acting for: code, name, brand) and
                     ``roles`` (the roles held there, for this client's services only); which
                     organisation that is: ``acting_for``
* ``organisations``  ``organisations``: every membership, each with the same role filter

A ``claims`` request parameter (OIDC Core 5.5) may ask for these claims by name for the ID
token or the userinfo response, but only within the scopes granted (``within_scopes``): it
moves a claim the user agreed to, it never reaches past the client's scopes or the consent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from idp.catalogue import Catalogue
from idp.oidc import store

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "updated_at", "locale"),
    "email": ("email", "email_verified"),
    "roles": ("org", "roles"),
    "organisations": ("organisations",),
}
SUPPORTED_CLAIMS = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
    | {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
)
SUPPORTED_SCOPES = ["openid", *SCOPE_CLAIMS, "offline_access"]
SCOPED_CLAIMS = frozenset(claim for claims in SCOPE_CLAIMS.values() for claim in claims)


class Subject(Protocol):
    """The user columns claims are made of (``store.SubjectView``)."""

    @property
    def id(self) -> int: ...
    @property
    def sub(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def email(self) -> str | None: ...
    @property
    def email_verified(self) -> bool: ...
    @property
    def locale(self) -> str | None: ...


class ClientServices(Protocol):
    @property
    def service_keys(self) -> Any: ...


def requested_claim_names(
    scopes: set[str], claims_request: dict[str, Any] | None, target: str
) -> set[str]:
    """Names of the claims to release to ``target`` ("id_token" or "userinfo").

    ``claims_request`` is the one stored with the grant, already narrowed by ``within_scopes``
    when the code was issued."""
    names = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    if claims_request and isinstance(claims_request.get(target), dict):
        names |= set(claims_request[target]) & set(SUPPORTED_CLAIMS)
    return names


def within_scopes(
    claims_request: dict[str, Any] | None, scopes: list[str] | set[str]
) -> dict[str, Any] | None:
    """A ``claims`` request narrowed to what ``scopes`` release: a scope's claim stays only if
    one of ``scopes`` covers it, other supported claims (``acr``, ``auth_time``…) stay, the
    rest go. A server may leave out claims it will not release (OIDC Core 5.5), so this never
    fails."""
    if claims_request is None:
        return None
    covered = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    return {
        target: {
            name: spec
            for name, spec in members.items()
            if name in SUPPORTED_CLAIMS and (name not in SCOPED_CLAIMS or name in covered)
        }
        for target, members in claims_request.items()
        if isinstance(members, dict)
    }


def user_claims(
    user: Subject,
    names: set[str],
    client: ClientServices,
    acting: store.MembershipView | None,
    catalogue: Catalogue,
) -> dict[str, Any]:
    """The requested claims of ``user`` as ``client`` may see them, speaking for ``acting``
    (``acting_for``)."""
    claims: dict[str, Any] = {"sub": user.sub}
    if "name" in names:
        claims["name"] = f"{user.given_name} {user.family_name}".strip()
    if "given_name" in names:
        claims["given_name"] = user.given_name
    if "family_name" in names:
        claims["family_name"] = user.family_name
    if "updated_at" in names:
        claims["updated_at"] = int(user.updated_at.timestamp())
    if "locale" in names and user.locale is not None:
        claims["locale"] = user.locale
    if names & {"email", "email_verified"} and user.email is not None:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if not names & {"org", "roles", "organisations"}:
        return claims
    visible = catalogue.roles_for_services(frozenset(client.service_keys))
    if "organisations" in names:
        claims["organisations"] = [
            {**_org(m), "roles": sorted(m.role_keys & visible)} for m in store.memberships(user.id)
        ]
    if names & {"org", "roles"}:
        if acting is not None:
            claims["org"] = _org(acting)
        claims["roles"] = sorted(acting.role_keys & visible) if acting else []
    return claims


# -- which organisation a grant speaks for ----------------------------------------------


class ChoiceNeeded(Exception):
    """The person holds roles for the client's services at several organisations and has not
    chosen one (or the one chosen is no longer theirs): only they can say which."""


def asks_for_organisation(
    scopes: str | list[str] | set[str], claims_request: dict[str, Any] | None
) -> bool:
    """Whether a grant releases ``org``/``roles``: by the ``roles`` scope, or by a ``claims``
    request naming them (already held within the scopes: ``within_scopes``)."""
    if "roles" in (scopes.split() if isinstance(scopes, str) else scopes):
        return True
    return any(
        isinstance(members, dict) and bool({"org", "roles"} & set(members))
        for members in (claims_request or {}).values()
    )


def may_act_for(
    user_id: int, organisation_id: int, catalogue: Catalogue
) -> store.MembershipView | None:
    """The organisation as the user acts for it, if they may: a membership, or an associate
    centre of a Cambridge Associate where they hold User Management (no roles there)."""
    return store.membership(user_id, organisation_id) or store.managed_associate(
        user_id, organisation_id, catalogue.management_roles()
    )


def acting_for(
    user_id: int, client: ClientServices, chosen: int | None, catalogue: Catalogue
) -> store.MembershipView | None:
    """The organisation a grant speaks for (README, "Claims"), never one picked by order:

    * ``chosen`` (in the sign-in session, or when the grant was made) while the user may still
      act for it;
    * else the one organisation where they hold roles for the client's services;
    * else, when they hold none anywhere, their only organisation, or none at all (no ``org``,
      ``roles: []``);
    * several holding roles: ``ChoiceNeeded``.
    """
    if chosen is not None:
        found = may_act_for(user_id, chosen, catalogue)
        if found is not None:
            return found
    every = store.memberships(user_id)
    visible = catalogue.roles_for_services(frozenset(client.service_keys))
    holding = [m for m in every if m.role_keys & visible]
    if len(holding) > 1:
        raise ChoiceNeeded()
    if holding:
        return holding[0]
    managed = store.managed_associate_ids(user_id, catalogue.management_roles())
    if len({m.organisation_id for m in every} | managed) != 1:
        return None
    if every:
        return every[0]
    return may_act_for(user_id, managed.pop(), catalogue)


def _org(membership: store.MembershipView) -> dict[str, str]:
    return {"code": membership.code, "name": membership.name, "brand": membership.brand}
