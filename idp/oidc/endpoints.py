"""Userinfo, revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector as FlaskResourceProtector
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    MissingAuthorizationError,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import request as flask_request
from joserfc.jwk import KeySet

from idp.domain import tokens as token_rules
from idp.oidc import claims as claims_module
from idp.oidc import store
from idp.oidc.tokens import TokenMatch, find_token


class BearerValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> TokenMatch | None:
        return find_token(token_string, "access_token")

    def validate_token(self, token: TokenMatch | None, scopes: Any, request: Any) -> None:
        if token is None or token.kind != "access_token" or not token.is_active():
            raise InvalidTokenError(realm=self.realm)
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScope(self.realm, scopes or [])


class InsufficientScope(InsufficientScopeError):
    """403 with the challenge RFC 6750 §3.1 asks for, naming the scope that was needed."""

    def __init__(self, realm: str, scopes: list[str]):
        super().__init__()
        self.realm, self.scopes = realm, scopes

    def get_headers(self) -> list[tuple[str, str]]:
        needed = " ".join(self.scopes)
        challenge = f'Bearer realm="{self.realm}", error="insufficient_scope", scope="{needed}"'
        return [*default_json_headers, ("WWW-Authenticate", challenge)]


class MissingTokenError(InvalidTokenError):
    """No access token at all: RFC 6750 3.1 asks for a bare challenge, with no error code."""

    description = "No access token was sent."

    def get_headers(self) -> list[tuple[str, str]]:
        return [*default_json_headers, ("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class ResourceProtector(FlaskResourceProtector):
    """Bearer tokens in the Authorization header or, on POST, in the form body (RFC 6750 2.2)."""

    def __init__(self, server: Any):
        super().__init__()
        self.register_token_validator(BearerValidator(realm=server.settings.oidc.issuer))

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        body_token = None
        if (
            flask_request.method == "POST"
            and flask_request.mimetype == "application/x-www-form-urlencoded"
        ):
            body_token = flask_request.form.get("access_token")
        if body_token is not None:
            if "Authorization" in flask_request.headers:
                raise InvalidRequestError("Send the access token one way only.")
            return self.get_token_validator("bearer"), body_token
        try:
            return super().parse_request_authorization(request)
        except MissingAuthorizationError:
            raise MissingTokenError(realm=self._default_realm) from None
        except UnsupportedTokenTypeError:
            raise InvalidTokenError(
                "Use a Bearer access token.", realm=self._default_realm
            ) from None


def _token_claims(server: Any, match: TokenMatch, target: str) -> dict[str, Any]:
    """The claims a token carries now. Raises ``claims.ChoiceNeeded`` when the organisation
    it spoke for is no longer the person's and several others would do (``acting_for``)."""
    if match.for_client:
        return {}
    row = match.row
    names = claims_module.requested_claim_names(set(row.scope.split()), row.claims_request, target)
    services = SimpleNamespace(service_keys=row.client_service_keys)
    catalogue = server.settings.catalogue
    acting = None
    if names & {"org", "roles"}:
        acting = claims_module.acting_for(row.user_id, services, row.organisation_id, catalogue)
    return claims_module.user_claims(store.subject_of(row), names, services, acting, catalogue)


class UserInfoEndpoint(_UserInfoEndpoint):
    def __call__(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]]:
        match: TokenMatch = self.resource_protector.acquire_token("openid")
        try:
            found = _token_claims(self.server, match, "userinfo")
        except claims_module.ChoiceNeeded:
            # OIDC Core 5.3.3: an error as RFC 6750 3.1 defines them. The token spoke for an
            # organisation that is no longer the person's and several others would do: any
            # answer would be a guess, so the token is no longer good for this (invalid_token
            # asks the relying party to get a new one, and refreshing asks the person).
            raise InvalidTokenError(
                "The organisation this token spoke for is no longer the person's.",
                realm=self.server.settings.oidc.issuer,
            ) from None
        return 200, found, default_json_headers


def check_token_param(request: OAuth2Request) -> None:
    """``token`` is required; ``token_type_hint`` is only a hint. One we cannot use (say
    ``id_token``) widens the search to every token type (RFC 7009 2.1, RFC 7662 2.1): it is
    no error, and ``find_token`` looks the value up both ways whatever the hint."""
    if "token" not in request.form:
        raise InvalidRequestError()


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]

    def check_params(self, request: OAuth2Request, client: Any) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenMatch | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenMatch, request: OAuth2Request) -> None:
        if token.kind == "refresh_token":
            # RFC 7009 2.1: revoking a refresh token ends the access tokens of the same grant.
            token_rules.revoke_family(token.row.family_id)
        else:
            store.revoke_access(token.row.id)


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def check_params(self, request: OAuth2Request, client: Any) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenMatch | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: TokenMatch, client: Any, request: OAuth2Request) -> bool:
        """Registered resource servers may introspect any token; a client, its own."""
        return bool(client.can_introspect) or token.row.client_id == client.client_id

    def create_introspection_payload(self, token: TokenMatch | None) -> dict[str, Any]:
        if token is None or not token.is_active():
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: TokenMatch) -> dict[str, Any]:
        row = token.row
        payload: dict[str, Any] = {
            "active": True,
            "iss": self.server.settings.oidc.issuer,
            "client_id": row.client_id,
            "aud": row.client_id,
            "scope": row.scope,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "exp": store.timestamp(token.expires),
            "iat": int(row.issued_at.timestamp()),
            "auth_time": row.auth_time,
        }
        if row.sid:
            payload["sid"] = row.sid
        try:
            payload.update(_token_claims(self.server, token, "userinfo"))
        except claims_module.ChoiceNeeded:  # as userinfo refuses it: no longer usable
            return {"active": False}
        return payload


class EndSessionEndpoint(_EndSessionEndpoint):
    """RP-initiated logout. The view signs the browser out; this class validates the request."""

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        validated = super().validate_request(request)
        claims = validated.id_token_claims
        if claims is not None and claims.get("iss") != self.server.settings.oidc.issuer:
            raise InvalidRequestError("The ID token hint was not issued here.")
        return validated

    def get_server_jwks(self) -> KeySet:
        return self.server.keyring.keyset()

    def get_algorithms(self) -> list[str]:
        return self.server.keyring.algorithms()

    def is_post_logout_redirect_uri_legitimate(
        self,
        request: OAuth2Request,
        post_logout_redirect_uri: str,
        client: Any,
        logout_hint: str | None,
    ) -> bool:
        # Without an ID token hint, the user's own confirmation on our page makes it legitimate.
        return bool(getattr(request, "logout_confirmed", False))

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """The view has already ended the sign-in session."""
