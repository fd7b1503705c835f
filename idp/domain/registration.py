"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

A service registers itself with an initial access token that an operator issued
(``idp clients token``); the operator's choice of services bounds which roles its tokens can
carry, and a registered client is always third-party (people are asked for consent). Every
metadata field is checked; an error names the field, with the error codes of RFC 7591 §3.2.2.
Flows asked for that the server does not offer (implicit, hybrid) are left out of what is
registered, and the response says what was (RFC 7591 §2, §3.2.1).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from datetime import timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp import clock, outbound
from idp.catalogue import Catalogue
from idp.domain import audit, clients
from idp.errors import DomainError, InvalidInput, Text
from idp.extensions import db
from idp.models import Client, RegistrationToken
from idp.security import constant_time_equals, random_token, token_hash

GRANT_TYPES = {"authorization_code", "refresh_token"}
RESPONSE_TYPES = {"code"}
AUTH_METHODS = {"client_secret_basic", "client_secret_post", "none", "private_key_jwt"}
ALGORITHMS = {"RS256", "ES256"}
SCOPES = {"openid", "profile", "email", "roles", "organisations", "offline_access"}
MAX_URIS = 10
# The account's own name, which no registered service may take on the consent page.
ACCOUNT_NAME = "My Cambridge"


class RegistrationError(DomainError):
    """A registration request that cannot be accepted (RFC 7591 §3.2.2)."""

    def __init__(self, error: str, message: str | Text):
        super().__init__(message)
        self.error = error


# -- initial access tokens ----------------------------------------------------------------------


def issue_initial_token(
    *, ttl_seconds: int, service_keys: Iterable[str], uses: int, catalogue: Catalogue
) -> tuple[str, RegistrationToken]:
    services = list(dict.fromkeys(service_keys))
    unknown = [key for key in services if key not in catalogue.services_by_key]
    if unknown:
        raise InvalidInput(f"Unknown service {unknown[0]!r}.")
    if not 1 <= uses <= 1000 or ttl_seconds <= 0:
        raise InvalidInput("A token needs 1 to 1000 uses and a positive lifetime.")
    token = random_token(32)
    now = clock.now()
    row = RegistrationToken(
        token_hash=token_hash(token),
        service_keys=services,
        uses_left=uses,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "client.registration_token_issued",
        target_type="registration_token",
        target_id=row.id,
        services=services,
        uses=uses,
    )
    return token, row


def use_initial_token(token: str) -> RegistrationToken:
    """Spend one use of a live initial access token, or raise (``invalid_token``)."""
    row = db.session.scalar(
        select(RegistrationToken).where(RegistrationToken.token_hash == token_hash(token or ""))
    )
    if row is None or row.expires_at <= clock.now():
        raise RegistrationError("invalid_token", "The initial access token is not valid.")
    spent = db.session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.id == row.id, RegistrationToken.uses_left > 0)
        .values(uses_left=RegistrationToken.uses_left - 1)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise RegistrationError("invalid_token", "The initial access token has been used up.")
    return row


# -- metadata -------------------------------------------------------------------------------------


def _uris(body: dict[str, Any], name: str, *, required: bool, error: str) -> list[str]:
    value = body.get(name, [] if not required else None)
    if value is None or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistrationError(error, f"{name} must be a list of URIs.")
    if required and not value:
        raise RegistrationError(error, f"{name} must name at least one URI.")
    if len(value) > MAX_URIS:
        raise RegistrationError(error, f"{name} may name at most {MAX_URIS} URIs.")
    try:
        return [clients.check_redirect_uri(v, name) for v in value]
    except InvalidInput as exc:
        raise RegistrationError(error, exc.text) from None


def _one_uri(body: dict[str, Any], name: str) -> str | None:
    """An optional single-URI field, checked as a redirect URI is (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    return _uris(
        {name: [value]} if isinstance(value, str) else {},
        name,
        required=True,
        error="invalid_client_metadata",
    )[0]


def _fetched_uri(body: dict[str, Any], name: str, allow_private: bool) -> str | None:
    """An optional URI the provider itself requests: unless ``allow_private``, https and not
    naming an internal address (``idp.outbound``; checked again, resolved, at each request)."""
    uri = _one_uri(body, name)
    if uri is not None and not allow_private:
        try:
            outbound.check_public_url(uri)
        except ValueError as exc:
            raise RegistrationError("invalid_client_metadata", f"{name} {exc}.") from None
    return uri


def _fold(name: str) -> str:
    """A name as a person would read it: compatibility forms, case, spaces and punctuation
    set aside, so "MY  cambridge" and "My-Cambridge" are both "mycambridge"."""
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())


def _client_name(body: dict[str, Any], catalogue: Catalogue) -> str:
    """The name people see on the consent page. Control and format characters are refused
    (bidirectional overrides and isolates, zero-width characters, and the like), since they
    make the page read other than it says; so are the names of the catalogue's services and
    brands and of the account itself, so that a registered service cannot ask for consent as
    one of the exam board's own."""
    raw = _string(body, "client_name", "")
    if any(unicodedata.category(c).startswith("C") for c in raw):
        raise RegistrationError(
            "invalid_client_metadata",
            "client_name must not contain control or format characters.",
        )
    name = " ".join(raw.split())[:200]
    if not name:
        raise RegistrationError("invalid_client_metadata", "client_name is required.")
    taken = {
        _fold(n)
        for n in (
            ACCOUNT_NAME,
            *(s.name for s in catalogue.services),
            *(b.name for b in catalogue.brands),
        )
    }
    if _fold(name) in taken:
        raise RegistrationError(
            "invalid_client_metadata",
            "client_name must not be the name of one of the exam board's own services.",
        )
    return name


def _string(body: dict[str, Any], name: str, default: str, allowed: set[str] | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        choices = f": one of {', '.join(sorted(allowed))}" if allowed else ""
        raise RegistrationError("invalid_client_metadata", f"{name} must be a string{choices}.")
    return value


def supported_subset(value: Any, name: str, allowed: set[str]) -> list[str]:
    """The requested values this server supports, in the order asked.

    RFC 7591 §2 lets the server replace requested ``grant_types`` and ``response_types`` with
    values it supports, provided the response names what was registered. Relying parties such as
    Apache's mod_auth_openidc ask for the implicit and hybrid flows alongside the code flow, so
    those are dropped rather than refused; only a request with nothing supported left fails."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistrationError("invalid_client_metadata", f"{name} must be a list of strings.")
    kept = [v for v in dict.fromkeys(value) if v in allowed]
    if not kept:
        raise RegistrationError(
            "invalid_client_metadata", f"{name} must hold one of {', '.join(sorted(allowed))}."
        )
    return kept


def check_metadata(
    body: Any, algorithms: Collection[str], catalogue: Catalogue, *, allow_private: bool = False
) -> dict[str, Any]:
    """The request's metadata, checked and normalised (unknown fields are ignored, §2).

    ``id_token_signed_response_alg`` must be one of ``algorithms``, those the signing keyring
    holds a private key for now: a client registered for another would get a 500 at the token
    endpoint on every sign-in. The URIs the provider itself requests (``jwks_uri``,
    ``backchannel_logout_uri``) must be https and public unless ``allow_private``; the
    ``frontchannel_logout_uri`` must be on a redirect URI's origin; ``client_name`` must not
    pass for one of the exam board's services."""
    if not isinstance(body, dict):
        raise RegistrationError("invalid_client_metadata", "The body must be a JSON object.")
    meta: dict[str, Any] = {
        "redirect_uris": _uris(body, "redirect_uris", required=True, error="invalid_redirect_uri"),
        "post_logout_redirect_uris": _uris(
            body, "post_logout_redirect_uris", required=False, error="invalid_client_metadata"
        ),
        "client_name": _client_name(body, catalogue),
        "token_endpoint_auth_method": _string(
            body, "token_endpoint_auth_method", "client_secret_basic", AUTH_METHODS
        ),
        "id_token_signed_response_alg": _string(
            body, "id_token_signed_response_alg", "RS256", ALGORITHMS & set(algorithms)
        ),
    }
    for name, allowed, default in (
        ("grant_types", GRANT_TYPES, ["authorization_code", "refresh_token"]),
        ("response_types", RESPONSE_TYPES, ["code"]),
    ):
        meta[name] = supported_subset(body.get(name, default), name, allowed)
    if "authorization_code" not in meta["grant_types"]:
        raise RegistrationError(
            "invalid_client_metadata", "grant_types must include authorization_code."
        )
    scope = _string(body, "scope", "openid profile email roles")
    if not set(scope.split()) <= SCOPES or "openid" not in scope.split():
        raise RegistrationError(
            "invalid_client_metadata",
            f"scope must include openid and only {', '.join(sorted(SCOPES))}.",
        )
    meta["scope"] = " ".join(dict.fromkeys(scope.split()))
    meta.update(_keys(body, meta["token_endpoint_auth_method"], allow_private))
    frontchannel = _one_uri(body, "frontchannel_logout_uri")
    if frontchannel is not None:
        try:
            meta["frontchannel_logout_uri"] = clients.check_frontchannel_logout_uri(
                frontchannel, meta["redirect_uris"]
            )
        except InvalidInput as exc:
            raise RegistrationError("invalid_client_metadata", exc.text) from None
    backchannel = _fetched_uri(body, "backchannel_logout_uri", allow_private)
    if backchannel is not None:
        meta["backchannel_logout_uri"] = backchannel
    initiate = body.get("initiate_login_uri")
    if initiate is not None:
        if not isinstance(initiate, str):
            raise RegistrationError("invalid_client_metadata", "initiate_login_uri must be a URI.")
        try:
            meta["initiate_login_uri"] = clients.check_initiate_login_uri(
                initiate, meta["redirect_uris"]
            )
        except InvalidInput as exc:
            raise RegistrationError("invalid_client_metadata", exc.text) from None
    return meta


def _keys(body: dict[str, Any], method: str, allow_private: bool) -> dict[str, Any]:
    """The client's public keys for ``private_key_jwt``: ``jwks`` by value or ``jwks_uri``."""
    jwks, jwks_uri = body.get("jwks"), body.get("jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise RegistrationError("invalid_client_metadata", "Give jwks or jwks_uri, not both.")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise RegistrationError(
            "invalid_client_metadata", "private_key_jwt needs the client's jwks or jwks_uri."
        )
    if jwks is not None:
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            raise RegistrationError("invalid_client_metadata", "jwks must be a JWK set.")
        if any("d" in k or k.get("kty") == "oct" for k in keys):
            raise RegistrationError(
                "invalid_client_metadata", "jwks must hold public keys only (no private or shared)."
            )
        try:
            KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError):
            raise RegistrationError(
                "invalid_client_metadata", "jwks holds an unusable key."
            ) from None
        return {"jwks": jwks}
    if jwks_uri is not None:
        return {"jwks_uri": _fetched_uri(body, "jwks_uri", allow_private)}
    return {}


# -- registering and managing -----------------------------------------------------------------


def register(
    meta: dict[str, Any], service_keys: list[str], catalogue: Catalogue
) -> tuple[Client, str | None, str]:
    """Create the client; return it with its secret and its registration access token."""
    client, secret = clients.create(
        name=meta["client_name"],
        redirect_uris=meta["redirect_uris"],
        post_logout_redirect_uris=meta["post_logout_redirect_uris"],
        public=meta["token_endpoint_auth_method"] == "none",
        service_keys=service_keys,
        catalogue=catalogue,
        auth_method=None
        if meta["token_endpoint_auth_method"] == "none"
        else meta["token_endpoint_auth_method"],
        first_party=False,
        backchannel_logout_uri=meta.get("backchannel_logout_uri"),
        initiate_login_uri=meta.get("initiate_login_uri"),
    )
    _apply(client, meta)
    access = random_token(32)
    client.registration_token_hash = token_hash(access)
    audit.record("client.registered", target_type="client", target_id=client.client_id)
    return client, secret, access


def _apply(client: Client, meta: dict[str, Any]) -> None:
    client.grant_types = meta["grant_types"]
    client.response_types = meta["response_types"]
    client.scope = meta["scope"]
    extra = {
        key: value
        for key, value in (client.extra_metadata or {}).items()
        if key not in ("jwks", "jwks_uri", "frontchannel_logout_uri")
    }
    extra["id_token_signed_response_alg"] = meta["id_token_signed_response_alg"]
    for key in ("jwks", "jwks_uri", "frontchannel_logout_uri"):
        if key in meta:
            extra[key] = meta[key]
    client.extra_metadata = extra


def registered_client(client_id: str, access_token: str) -> Client:
    """The client a registration access token manages; the same error for an unknown client and
    a wrong token (``invalid_token``)."""
    client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    stored = client.registration_token_hash if client is not None else None
    if (
        not constant_time_equals(token_hash(access_token or ""), stored or "-" * 64)
        or client is None
    ):
        raise RegistrationError("invalid_token", "The registration access token is not valid.")
    return client


def update_registration(
    client: Client,
    body: Any,
    algorithms: Collection[str],
    catalogue: Catalogue,
    *,
    allow_private: bool = False,
) -> Client:
    """RFC 7592 §2.2: replace the metadata (the client id and kind cannot change), checked as
    at registration."""
    if not isinstance(body, dict) or body.get("client_id") != client.client_id:
        raise RegistrationError("invalid_client_metadata", "client_id must be this client's.")
    meta = check_metadata(body, algorithms, catalogue, allow_private=allow_private)
    kind = "none" if client.is_public else client.token_endpoint_auth_method
    if (meta["token_endpoint_auth_method"] == "none") != (kind == "none"):
        raise RegistrationError(
            "invalid_client_metadata", "A client cannot change between public and confidential."
        )
    client.name = meta["client_name"]
    client.redirect_uris = meta["redirect_uris"]
    client.post_logout_redirect_uris = meta["post_logout_redirect_uris"]
    client.token_endpoint_auth_method = meta["token_endpoint_auth_method"]
    client.backchannel_logout_uri = meta.get("backchannel_logout_uri")
    client.initiate_login_uri = meta.get("initiate_login_uri")
    _apply(client, meta)
    audit.record("client.registration_updated", target_type="client", target_id=client.client_id)
    return client


def describe(
    client: Client, *, secret: str | None = None, access: str | None = None, client_uri: str
) -> dict[str, Any]:
    """The client information response (RFC 7591 §3.2.1, RFC 7592 §3)."""
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "response_types": client.response_types,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "scope": client.scope,
        "id_token_signed_response_alg": (client.extra_metadata or {}).get(
            "id_token_signed_response_alg", "RS256"
        ),
        "registration_client_uri": client_uri,
    }
    if client.backchannel_logout_uri:
        body["backchannel_logout_uri"] = client.backchannel_logout_uri
    if client.initiate_login_uri:
        body["initiate_login_uri"] = client.initiate_login_uri
    for key in ("jwks", "jwks_uri", "frontchannel_logout_uri"):
        if key in (client.extra_metadata or {}):
            body[key] = client.extra_metadata[key]
    if secret:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0
    if access:
        body["registration_access_token"] = access
    return body
