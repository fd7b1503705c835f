"""Relying-party registration: create, list, rotate secrets, disable, delete."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select

from idp import clock
from idp.catalogue import Catalogue
from idp.config import LOOPBACK_HOSTS
from idp.domain import audit
from idp.errors import InvalidInput, NotFound
from idp.extensions import db
from idp.models import Client
from idp.models.oauth import DEFAULT_GRANT_TYPES
from idp.security import random_token, readable_secret, token_hash

CLIENT_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 24 characters: 120 bits
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")


def check_redirect_uri(uri: str, label: str = "redirect URI") -> str:
    """An absolute https URI (http only on loopback), with no fragment, or InvalidInput."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidInput(f"The {label} {uri!r} is not a valid URL.") from None
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"The {label} {uri!r} must not contain a fragment.")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri
    raise InvalidInput(f"The {label} {uri!r} must use https (http is allowed on loopback only).")


def get(client_id: str) -> Client:
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound(f"No client with id {client_id!r}.")
    return client


def all_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.name)).all())


def create(
    *,
    name: str,
    redirect_uris: Iterable[str],
    post_logout_redirect_uris: Iterable[str] = (),
    public: bool = False,
    service_keys: Iterable[str] = (),
    catalogue: Catalogue,
    auth_method: str | None = None,
    first_party: bool = True,
    can_introspect: bool = False,
    client_id: str | None = None,
    backchannel_logout_uri: str | None = None,
) -> tuple[Client, str | None]:
    """Register a client. Returns it with its secret, shown once and stored only as a hash."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Enter the client's name.")
    redirects = [check_redirect_uri(u) for u in redirect_uris]
    if not redirects:
        raise InvalidInput("Register at least one redirect URI.")
    post_logout = [
        check_redirect_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris
    ]
    backchannel = (
        check_redirect_uri(backchannel_logout_uri, "back-channel logout URI")
        if backchannel_logout_uri
        else None
    )
    services = list(dict.fromkeys(service_keys))
    unknown = [key for key in services if key not in catalogue.services_by_key]
    if unknown:
        raise InvalidInput(f"Unknown service {unknown[0]!r}.")
    method = "none" if public else (auth_method or "client_secret_basic")
    if (
        method not in AUTH_METHODS
        or (public and method != "none")
        or (not public and method == "none")
    ):
        raise InvalidInput(f"Unsupported token endpoint auth method {method!r}.")
    # Letters and digits only: an id that began with "-" would read as an option on a CLI.
    client_id = client_id or readable_secret(24, CLIENT_ID_ALPHABET)
    if db.session.scalar(select(Client.id).where(Client.client_id == client_id)) is not None:
        raise InvalidInput(f"A client with id {client_id!r} already exists.")
    # A private_key_jwt client proves itself with its own key: it gets no secret.
    secret = None if public or method == "private_key_jwt" else random_token(32)
    client = Client(
        client_id=client_id,
        client_secret_hash=token_hash(secret) if secret else None,
        name=name,
        redirect_uris=redirects,
        post_logout_redirect_uris=post_logout,
        grant_types=list(DEFAULT_GRANT_TYPES),
        response_types=["code"],
        token_endpoint_auth_method=method,
        service_keys=services,
        first_party=first_party,
        can_introspect=can_introspect,
        backchannel_logout_uri=backchannel,
        created_at=clock.now(),
    )
    db.session.add(client)
    db.session.flush()
    audit.record("client.created", target_type="client", target_id=client.client_id, name=name)
    return client, secret


def rotate_secret(client: Client) -> str:
    """Replace a confidential client's secret; the old one stops working at once."""
    if client.is_public:
        raise InvalidInput("A public client has no secret.")
    secret = random_token(32)
    client.client_secret_hash = token_hash(secret)
    client.secret_rotated_at = clock.now()
    audit.record("client.secret_rotated", target_type="client", target_id=client.client_id)
    return secret


def update_uris(
    client: Client, redirect_uris: Iterable[str], post_logout_redirect_uris: Iterable[str]
) -> None:
    """Replace the client's redirect and post-logout URIs (each checked)."""
    redirects = [check_redirect_uri(u) for u in redirect_uris]
    if not redirects:
        raise InvalidInput("Register at least one redirect URI.")
    before = {"redirect_uris": client.redirect_uris, "post": client.post_logout_redirect_uris}
    client.redirect_uris = redirects
    client.post_logout_redirect_uris = [
        check_redirect_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris
    ]
    audit.record(
        "client.uris_changed",
        target_type="client",
        target_id=client.client_id,
        before=before,
        after={"redirect_uris": redirects, "post": client.post_logout_redirect_uris},
    )


def set_disabled(client: Client, disabled: bool) -> None:
    """A disabled client can neither start a sign-in nor use the token endpoint."""
    client.disabled_at = clock.now() if disabled else None
    audit.record(
        "client.disabled" if disabled else "client.enabled",
        target_type="client",
        target_id=client.client_id,
    )


def delete(client: Client) -> None:
    audit.record("client.deleted", target_type="client", target_id=client.client_id)
    db.session.delete(client)


def describe(client: Client) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.is_public,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scope": client.scope,
        "services": client.service_keys,
        "first_party": client.first_party,
        "can_introspect": client.can_introspect,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "disabled": client.is_disabled,
        "created_at": client.created_at.isoformat(),
    }
