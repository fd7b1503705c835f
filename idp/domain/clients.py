"""Relying-party registration: create, list, rotate secrets, disable, delete."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select

from idp import clock
from idp.catalogue import Catalogue
from idp.config import LOOPBACK_HOSTS
from idp.domain import audit, tokens
from idp.errors import N_, InvalidInput, NotFound, Text
from idp.extensions import db
from idp.models import Client, Token
from idp.models.oauth import DEFAULT_GRANT_TYPES, DEFAULT_SCOPE
from idp.security import random_token, readable_secret, token_hash

CLIENT_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 24 characters: 120 bits
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")
CLIENT_CREDENTIALS = "client_credentials"

# The provider's API (``/api/...``), for services calling it as themselves with a
# client_credentials token. Only an operator grants these; people never can.
API_SCOPES = {
    "organisations.read": "Read an organisation: centre number, name, brand, associate centres.",
    "users.read": "Read the people of an organisation who hold roles for the client's services, "
    "with those roles.",
    # The exam board's own tools, not a service's: every centre and person, as the console
    # shows them to the support desk. Only an operator grants it.
    "console.read": "Read what the console's searches show, for the exam board's own tools: "
    "centres, people and the audit log of the whole service.",
}


def api_scopes_of(scope: str) -> list[str]:
    return [s for s in scope.split() if s in API_SCOPES]


def _check_api_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(scopes))
    unknown = [s for s in wanted if s not in API_SCOPES]
    if unknown:
        raise InvalidInput(
            N_("Unknown API scope %(scope)s (known: %(known)s)."),
            scope=repr(unknown[0]),
            known=", ".join(sorted(API_SCOPES)),
        )
    return wanted


# The operators' form field that holds each kind of URI (its errors point there).
URI_FIELDS = {
    "redirect URI": "redirect_uris",
    "post-logout redirect URI": "post_logout_redirect_uris",
    "back-channel logout URI": "backchannel_logout_uri",
    "user data URI": "user_data_uri",
    "initiate login URI": "initiate_login_uri",
    "front-channel logout URI": "frontchannel_logout_uri",
}


def check_redirect_uri(uri: str, label: str = "redirect URI") -> str:
    """An absolute https URI (http only on loopback), with no fragment, or InvalidInput.
    ``label`` names the field as the API does, so it is not translated."""
    field = URI_FIELDS.get(label)
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidInput(
            Text(
                N_("The %(field)s %(uri)s is not a valid URL."), {"field": label, "uri": repr(uri)}
            ),
            field,
        ) from None
    if parts.fragment or "#" in uri:
        raise InvalidInput(
            Text(
                N_("The %(field)s %(uri)s must not contain a fragment."),
                {"field": label, "uri": repr(uri)},
            ),
            field,
        )
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri
    raise InvalidInput(
        Text(
            N_("The %(field)s %(uri)s must use https (http is allowed on loopback only)."),
            {"field": label, "uri": repr(uri)},
        ),
        field,
    )


def origin(uri: str) -> str | None:
    """``scheme://host:port`` of an absolute http(s) URI, lower-cased with the port spelled out,
    so two spellings of one origin compare equal; None for anything else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def on_a_redirect_origin(uri: str, redirect_uris: Iterable[str]) -> bool:
    """Whether ``uri`` shares its origin (scheme, host and port) with one of the redirect URIs."""
    return origin(uri) in {origin(r) for r in redirect_uris}


def check_initiate_login_uri(uri: str, redirect_uris: Iterable[str]) -> str:
    """Where the provider starts a sign-in at the client (OpenID Connect Core 1.0 §4): checked as
    a redirect URI is, and on the origin of one of the client's redirect URIs. The provider
    sends the person's email address there, and a tile's ``target_link_uri`` may only lead to
    the client's own origins: an origin the client already receives codes on is one it has
    shown to be its own, so a registration cannot point people, or their addresses, elsewhere."""
    checked = check_redirect_uri(uri, "initiate login URI")
    if not on_a_redirect_origin(checked, redirect_uris):
        raise InvalidInput(
            N_(
                "The initiate login URI %(uri)s must be on the same origin (scheme, host and"
                " port) as one of the redirect URIs."
            ),
            "initiate_login_uri",
            uri=repr(uri),
        )
    return checked


def check_frontchannel_logout_uri(
    uri: str, redirect_uris: Iterable[str], field: str = "frontchannel_logout_uri"
) -> str:
    """Where the signed-out page frames the client, sending the issuer and the session id
    (OpenID Connect Front-Channel Logout 1.0 §2): checked as a redirect URI is, and on the
    origin of one of the client's redirect URIs, as the specification requires, so a
    registration cannot have the provider's page frame, and hand the session id to, a site
    the client has not shown to be its own."""
    checked = check_redirect_uri(uri, "front-channel logout URI")
    if not on_a_redirect_origin(checked, redirect_uris):
        raise InvalidInput(
            N_(
                "The front-channel logout URI %(uri)s must be on the same origin (scheme, host"
                " and port) as one of the redirect URIs."
            ),
            field,
            uri=repr(uri),
        )
    return checked


def frontchannel_logout_uri(client: Client) -> str | None:
    return (client.extra_metadata or {}).get("frontchannel_logout_uri")


def launcher(service_key: str, service_url: str) -> Client | None:
    """The client a home page tile for a service starts signing in at (OpenID Connect Core 1.0
    §4): an active one serving the service whose initiate login URI is on the origin of the
    service's page as the catalogue names it. The catalogue is the operator's word on where a
    service lives, so a client registered for the service with an initiate login URI elsewhere
    (dynamically, say, beside a redirect URI on the service's origin that it cannot prove is
    its own) never receives the tile's people or their addresses, and the tile's
    ``target_link_uri`` is on the origin the browser is sent to. First-party clients first,
    then the oldest; None when there is none (the tile opens the service's page)."""
    target = origin(service_url)
    if target is None:
        return None
    candidates = db.session.scalars(
        select(Client)
        .where(Client.initiate_login_uri.is_not(None), Client.disabled_at.is_(None))
        .order_by(Client.first_party.desc(), Client.created_at, Client.id)
    )
    return next(
        (
            c
            for c in candidates
            if service_key in c.service_keys and origin(c.initiate_login_uri or "") == target
        ),
        None,
    )


def get(client_id: str) -> Client:
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound(N_("No client with id %(client_id)s."), client_id=repr(client_id))
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
    api_scopes: Iterable[str] = (),
    user_data_uri: str | None = None,
    initiate_login_uri: str | None = None,
    id_token_alg: str | None = None,
    signing_algorithms: Iterable[str] = (),
) -> tuple[Client, str | None]:
    """Register a client. Returns it with its secret, shown once and stored only as a hash.

    ``api_scopes`` lets it call the provider's API as itself (client_credentials);
    ``user_data_uri`` makes it a data holder asked before anyone is deleted;
    ``initiate_login_uri`` lets a tile sign people straight in to it;
    ``id_token_alg`` signs its ID tokens with one of ``signing_algorithms`` (those the keyring
    has a key for) rather than the provider's default."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(N_("Enter the client's name."), "name")
    redirects = [check_redirect_uri(u) for u in redirect_uris]
    if not redirects:
        raise InvalidInput(N_("Register at least one redirect URI."), "redirect_uris")
    post_logout = [
        check_redirect_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris
    ]
    backchannel = (
        check_redirect_uri(backchannel_logout_uri, "back-channel logout URI")
        if backchannel_logout_uri
        else None
    )
    data_uri = check_redirect_uri(user_data_uri, "user data URI") if user_data_uri else None
    initiate = (
        check_initiate_login_uri(initiate_login_uri, redirects) if initiate_login_uri else None
    )
    services = list(dict.fromkeys(service_keys))
    unknown = [key for key in services if key not in catalogue.services_by_key]
    if unknown:
        raise InvalidInput(N_("Unknown service %(service)s."), service=repr(unknown[0]))
    method = "none" if public else (auth_method or "client_secret_basic")
    if (
        method not in AUTH_METHODS
        or (public and method != "none")
        or (not public and method == "none")
    ):
        raise InvalidInput(
            N_("Unsupported token endpoint auth method %(method)s."), method=repr(method)
        )
    alg = _check_id_token_alg(id_token_alg, signing_algorithms) if id_token_alg else None
    api = _check_api_scopes(api_scopes)
    if api and public:
        raise InvalidInput(N_("A public client cannot call the API: it has no credentials."))
    # Letters and digits only: an id that began with "-" would read as an option on a CLI.
    client_id = client_id or readable_secret(24, CLIENT_ID_ALPHABET)
    if db.session.scalar(select(Client.id).where(Client.client_id == client_id)) is not None:
        raise InvalidInput(
            N_("A client with id %(client_id)s already exists."), client_id=repr(client_id)
        )
    # A private_key_jwt client proves itself with its own key: it gets no secret.
    secret = None if public or method == "private_key_jwt" else random_token(32)
    client = Client(
        client_id=client_id,
        client_secret_hash=token_hash(secret) if secret else None,
        name=name,
        redirect_uris=redirects,
        post_logout_redirect_uris=post_logout,
        grant_types=[*DEFAULT_GRANT_TYPES, *([CLIENT_CREDENTIALS] if api else [])],
        response_types=["code"],
        token_endpoint_auth_method=method,
        service_keys=services,
        first_party=first_party,
        can_introspect=can_introspect,
        backchannel_logout_uri=backchannel,
        user_data_uri=data_uri,
        initiate_login_uri=initiate,
        created_at=clock.now(),
        extra_metadata={ID_TOKEN_ALG: alg} if alg else {},
    )
    if api:
        client.scope = " ".join([*DEFAULT_SCOPE.split(), *api])
    db.session.add(client)
    db.session.flush()
    audit.record("client.created", target_type="client", target_id=client.client_id, name=name)
    return client, secret


# Where a client's ID token algorithm is kept: the name dynamic registration gives it (OpenID
# Connect Dynamic Client Registration 1.0, section 2).
ID_TOKEN_ALG = "id_token_signed_response_alg"
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")


def _check_id_token_alg(alg: str, signing_algorithms: Iterable[str]) -> str:
    if alg not in ID_TOKEN_ALGORITHMS:
        raise InvalidInput(
            N_("Unsupported ID token signing algorithm %(alg)s."), "id_token_alg", alg=repr(alg)
        )
    if alg not in signing_algorithms:
        raise InvalidInput(
            N_(
                "There is no %(alg)s signing key yet: add one with idp keys rotate --alg %(alg)s"
                " first."
            ),
            "id_token_alg",
            alg=alg,
        )
    return alg


def id_token_alg(client: Client) -> str | None:
    """The algorithm chosen for the client's ID tokens; None: the provider's default."""
    return (client.extra_metadata or {}).get(ID_TOKEN_ALG)


def set_id_token_alg(client: Client, alg: str | None, signing_algorithms: Iterable[str]) -> None:
    """Sign the client's ID tokens with ``alg`` (one the keyring has a key for), or with the
    provider's default (None). RS256 is always available: OpenID Connect requires it."""
    chosen = _check_id_token_alg(alg, signing_algorithms) if alg else None
    metadata = {k: v for k, v in (client.extra_metadata or {}).items() if k != ID_TOKEN_ALG}
    client.extra_metadata = {**metadata, ID_TOKEN_ALG: chosen} if chosen else metadata
    audit.record(
        "client.id_token_alg_changed",
        target_type="client",
        target_id=client.client_id,
        alg=chosen or "default",
    )


def rotate_secret(client: Client) -> str:
    """Replace a confidential client's secret; the old one stops working at once."""
    if client.is_public:
        raise InvalidInput(N_("A public client has no secret."))
    secret = random_token(32)
    client.client_secret_hash = token_hash(secret)
    client.secret_rotated_at = clock.now()
    audit.record("client.secret_rotated", target_type="client", target_id=client.client_id)
    return secret


def update_uris(
    client: Client,
    redirect_uris: Iterable[str],
    post_logout_redirect_uris: Iterable[str],
    *,
    initiate_login_uri: str | None,
) -> None:
    """Replace the client's redirect, post-logout and initiate login URIs (each checked; none
    for the last: tiles open the service's page instead)."""
    redirects = [check_redirect_uri(u) for u in redirect_uris]
    if not redirects:
        raise InvalidInput(N_("Register at least one redirect URI."), "redirect_uris")
    post_logout = [
        check_redirect_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris
    ]
    initiate = (
        check_initiate_login_uri(initiate_login_uri, redirects) if initiate_login_uri else None
    )
    frontchannel = frontchannel_logout_uri(client)
    if frontchannel:
        # Redirect URIs may not move away from the origin the client frames people on.
        check_frontchannel_logout_uri(frontchannel, redirects, "redirect_uris")
    before = {
        "redirect_uris": client.redirect_uris,
        "post": client.post_logout_redirect_uris,
        "initiate_login_uri": client.initiate_login_uri,
    }
    client.redirect_uris = redirects
    client.post_logout_redirect_uris = post_logout
    client.initiate_login_uri = initiate
    audit.record(
        "client.uris_changed",
        target_type="client",
        target_id=client.client_id,
        before=before,
        after={"redirect_uris": redirects, "post": post_logout, "initiate_login_uri": initiate},
    )


def set_initiate_login_uri(client: Client, uri: str | None) -> None:
    """Where a tile starts a sign-in at the service (none: the tile opens the service's page)."""
    before = client.initiate_login_uri
    client.initiate_login_uri = check_initiate_login_uri(uri, client.redirect_uris) if uri else None
    audit.record(
        "client.initiate_login_uri_changed",
        target_type="client",
        target_id=client.client_id,
        before=before,
        after=client.initiate_login_uri,
    )


def set_api_access(client: Client, scopes: Iterable[str]) -> None:
    """Grant exactly ``scopes`` of the API (none: no client_credentials at all). Tokens the
    client holds for itself stop working at once, so a narrowed grant takes effect now."""
    api = _check_api_scopes(scopes)
    if api and client.is_public:
        raise InvalidInput(N_("A public client cannot call the API: it has no credentials."))
    before = api_scopes_of(client.scope)
    user_scopes = [s for s in client.scope.split() if s not in API_SCOPES]
    client.scope = " ".join([*user_scopes, *api])
    grants = [g for g in client.grant_types if g != CLIENT_CREDENTIALS]
    client.grant_types = [*grants, *([CLIENT_CREDENTIALS] if api else [])]
    tokens.revoke_where(Token.client_id == client.client_id, Token.user_id.is_(None))
    audit.record(
        "client.api_access_changed",
        target_type="client",
        target_id=client.client_id,
        before=before,
        after=api,
    )


def set_user_data_uri(client: Client, uri: str | None) -> None:
    """Where the provider asks whether the service holds a person's data (none: it holds none)."""
    before = client.user_data_uri
    client.user_data_uri = check_redirect_uri(uri, "user data URI") if uri else None
    audit.record(
        "client.user_data_uri_changed",
        target_type="client",
        target_id=client.client_id,
        before=before,
        after=client.user_data_uri,
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
        "api_scopes": api_scopes_of(client.scope),
        "user_data_uri": client.user_data_uri,
        "initiate_login_uri": client.initiate_login_uri,
        "id_token_signed_response_alg": id_token_alg(client),
        "disabled": client.is_disabled,
        "created_at": client.created_at.isoformat(),
    }
