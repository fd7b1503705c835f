"""Authlib wiring: the authorization server, its grants and endpoints, built per app.

``init_oauth(app)`` builds everything and keeps it in ``app.extensions["idp.oauth"]``; nothing
here holds state at import time.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Payload
from authlib.oidc.core.util import create_half_hash
from flask import Flask, current_app, g
from flask import request as flask_request
from joserfc import jwt
from werkzeug.datastructures import Headers, MultiDict

from idp import clock
from idp.config import Settings
from idp.oidc import backchannel, store
from idp.oidc import claims as claims_module
from idp.oidc.client_auth import PrivateKeyJWT
from idp.oidc.endpoints import (
    EndSessionEndpoint,
    IntrospectionEndpoint,
    ResourceProtector,
    RevocationEndpoint,
    UserInfoEndpoint,
)
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ReplayDetected,
    S256CodeChallenge,
)
from idp.oidc.keys import KeyRing
from idp.oidc.store import ClientInfo
from idp.oidc.tokens import grant_source, store_token
from idp.security import random_token


@dataclass
class InteractionContext:
    """What the sign-in gives the authorization code: who, when, how, acting for whom."""

    sid: str
    auth_time: int
    amr: list[str]
    acr: str | None
    organisation_id: int | None
    claims_request: dict[str, Any] | None = field(default=None)


class _Request(OAuth2Request):
    """An OAuth2Request without Authlib's https check: the issuer setting decides transport
    security (https everywhere, http only for a loopback issuer). The request URL, which
    Werkzeug rebuilds at some cost, is worked out only if something asks for it."""

    def __init__(self, method: str, headers: Any, payload: Any, form: Any, args: Any):
        self.method, self.headers = method, headers
        self._body = None
        self.client = self.auth_method = self.user = None
        self.authorization_code = self.refresh_token = self.credential = None
        self._scope = None
        # The organisation a new token speaks for, settled by the grant (``speak_for``).
        self.acting: store.MembershipView | None = None
        self.organisation_id: int | None = None
        # RP-initiated logout: the person confirmed it on our own page (routes.end_session).
        self.logout_confirmed = False
        self.payload = payload
        self._form, self._args = form, args

    @property
    def uri(self) -> str:
        return str(flask_request.url)

    @property
    def form(self) -> Any:
        return self._form

    @property
    def args(self) -> Any:
        return self._args


class _FormPayload(OAuth2Payload):
    """A request's parameters from its form body alone, each given once."""

    def __init__(self, form: MultiDict[str, str], datalist: dict[str, list[str]]):
        self._form, self._datalist = form, datalist

    @property
    def data(self) -> MultiDict[str, str]:
        return self._form

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


_PARAM_NAME = re.compile(r"[a-z_]{1,40}")
# The endpoints whose parameters come from the form body only, as the token endpoint's do.
FORM_ENDPOINTS = ("revocation", "introspection")


def form_request() -> _Request:
    """The request to the token, revocation or introspection endpoint with its parameters taken
    from the form body (RFC 6749 3.2, RFC 7009 2.1, RFC 7662 2.1): one given only in the query
    string is as if absent, and one given more than once is ``invalid_request`` (RFC 6749
    3.2). One pass over the form."""
    req = flask_request
    form = req.form
    datalist: dict[str, list[str]] = {}
    for name, values in form.lists():
        if len(values) > 1:
            # Named only if it is a plain name: error_description is printable ASCII (§5.2).
            named = f"The '{name}' parameter" if _PARAM_NAME.fullmatch(name) else "A parameter"
            raise InvalidRequestError(f"{named} is repeated.")
        datalist[name] = values
    return _Request(
        req.method, _sane_headers(req.headers), _FormPayload(form, datalist), form, MultiDict()
    )


def _sane_headers(headers: Any) -> Any:
    """The request's headers, without an ``Authorization`` that Authlib's parser would choke
    on (blank, a scheme with no credentials, Basic credentials that are not base64 of UTF-8):
    such a request is simply unauthenticated, and gets ``invalid_client``, not a 500."""
    auth = headers.get("Authorization")
    if auth is None:
        return headers
    parts = auth.split(None, 1)
    sane = len(parts) == 2
    if sane and parts[0].lower() == "basic":
        try:
            base64.b64decode(parts[1], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            sane = False
    if sane:
        return headers
    return Headers([(k, v) for k, v in headers.items() if k.lower() != "authorization"])


class IdpAuthorizationServer(AuthorizationServer):
    def __init__(self, app: Flask, settings: Settings, keyring: KeyRing):
        super().__init__()
        self.settings = settings
        self.keyring = keyring
        self.resource_protector: Any = None
        self.init_app(app)
        self.register_token_generator("default", self._generate_token)

    # -- requests --------------------------------------------------------------------

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        if isinstance(request, MultiDict):
            payload = BasicOAuth2Payload(request.to_dict())
            payload._datalist = {k: request.getlist(k) for k in request}  # noqa: SLF001
            return _Request("GET", flask_request.headers, payload, MultiDict(), request)
        req = flask_request
        return _Request(
            req.method, _sane_headers(req.headers), FlaskOAuth2Payload(req), req.form, req.args
        )

    def create_token_response(self, request: Any = None) -> Any:
        if request is None:
            try:
                request = form_request()
            except InvalidRequestError as error:
                return self.handle_error_response(None, error)
        return super().create_token_response(request)

    def handle_error_response(self, request: Any, error: Any) -> Any:
        # A replay reaches the token view, which revokes its family (routes.token).
        if isinstance(error, ReplayDetected):
            raise error
        return super().handle_error_response(request, error)

    def error_response(self, error: Any) -> Any:
        """The answer to ``error``, as Authlib gives any refused request."""
        return super().handle_error_response(None, error)

    def create_endpoint_response(self, name: str, request: Any = None) -> Any:
        if request is None and name in FORM_ENDPOINTS:
            try:
                request = form_request()
            except InvalidRequestError as error:
                return self.handle_error_response(None, error)
        return super().create_endpoint_response(name, request)

    def query_client(self, client_id: str | None) -> ClientInfo | None:
        """The enabled client with this id, read once per request."""
        if not client_id or not isinstance(client_id, str) or len(client_id) > 100:
            return None
        cache = g.setdefault("idp_clients", {})
        if client_id not in cache:
            cache[client_id] = store.client(client_id)
        return cache[client_id]

    # -- tokens ----------------------------------------------------------------------

    def _generate_token(
        self,
        grant_type: str,
        client: ClientInfo,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": random_token(32),
            "expires_in": expires_in or self.settings.oidc.access_token_ttl,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = random_token(32)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        store_token(token, request, self.settings)

    # -- ID tokens -------------------------------------------------------------------

    def client_alg(self, client: ClientInfo) -> str:
        return (
            client.extra_metadata.get("id_token_signed_response_alg")
            or self.settings.oidc.signing_alg
        )

    def encode_id_token(self, request: OAuth2Request, token: dict[str, Any]) -> str:
        """Sign the ID token for a code or refresh grant (OIDC Core 2 and 12.2)."""
        client: ClientInfo = request.client
        source = grant_source(request)
        alg = self.client_alg(client)
        signing = self.keyring.signing_key(alg)
        now = clock.timestamp()
        scopes = set(token.get("scope", "").split())
        names = claims_module.requested_claim_names(scopes, source.claims_request, "id_token")
        payload: dict[str, Any] = {
            "iss": self.settings.oidc.issuer,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "exp": now + self.settings.oidc.id_token_ttl,
            "auth_time": source.auth_time,
            "amr": source.amr,
        }
        if source.acr:
            payload["acr"] = source.acr
        if source.sid:
            payload["sid"] = source.sid
        if request.authorization_code is not None and request.authorization_code.nonce:
            payload["nonce"] = request.authorization_code.nonce  # not on refresh (OIDC 12.2)
        payload["at_hash"] = create_half_hash(token["access_token"], alg).decode()
        payload.update(
            claims_module.user_claims(
                request.user, names, client, request.acting, self.settings.catalogue
            )
        )
        header = {"alg": alg, "kid": signing.kid, "typ": "JWT"}
        return jwt.encode(header, payload, signing.key, algorithms=[alg])

    def issuer_params(self) -> dict[str, str]:
        return {"iss": self.settings.oidc.issuer}


def init_oauth(app: Flask, settings: Settings, keyring: KeyRing) -> IdpAuthorizationServer:
    server = IdpAuthorizationServer(app, settings, keyring)
    backchannel.install()
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    protector = server.resource_protector = ResourceProtector(server)
    server.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    app.extensions["idp.oauth"] = server
    return server


def oauth_server() -> IdpAuthorizationServer:
    return current_app.extensions["idp.oauth"]
