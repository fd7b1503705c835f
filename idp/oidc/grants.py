"""Authlib's grants with our storage: authorization code (with PKCE) and refresh token.

Both grants read and sign first and write last: the code (or the old refresh token) is
retired with one conditional ``UPDATE ... WHERE used_at IS NULL`` right before the new token is
inserted, so of two concurrent redemptions exactly one wins, and SQLite's write lock is held
only for those two statements. A second redemption of a code, or any use of a refresh token
that was already rotated, raises ``ReplayDetected``: the token view rolls the refused request
back and then revokes the token family in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge

from idp import clock
from idp.models import UserStatus
from idp.oidc import claims, store
from idp.oidc.tokens import TokenMatch, grant_source, store_client_token
from idp.security import random_token, token_hash

SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]


class ReplayDetected(InvalidGrantError):
    """A code redeemed twice, or a refresh token used after it was rotated: refused as any
    invalid grant is, and the token family it belongs to is to be revoked. The server lets it
    reach the token view (``IdpAuthorizationServer.handle_error_response``), which rolls the
    refused request back, revokes ``family_id`` in a transaction of its own, then answers."""

    def __init__(self, family_id: str, description: str | None = None) -> None:
        super().__init__(description)
        self.family_id = family_id


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only; ``plain`` is refused (RFC 9700 2.1.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class _SignThenWrite:
    """The token response of both grants: sign the ID token, then retire the old credential
    (``retire``) and save the new token."""

    request: OAuth2Request
    server: Any
    TOKEN_RESPONSE_HEADER: Any

    def _respond(
        self, user: Any, scope: str, include_refresh_token: bool, retire: Callable[[], None]
    ) -> tuple[int, Any, Any]:
        token = self.server.generate_token(
            grant_type=self.GRANT_TYPE,  # type: ignore[attr-defined]
            client=self.request.client,
            user=user,
            scope=scope,
            include_refresh_token=include_refresh_token,
        )
        self.request.user = user
        self.speak_for(user, scope)
        if "openid" in scope.split():
            token["id_token"] = self.server.encode_id_token(self.request, token)
        retire()
        self.server.save_token(token, self.request)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def speak_for(self, user: Any, scope: str) -> None:
        """Settle the organisation the new token speaks for (``claims.acting_for``): the one
        of its code or old token while the person may still act for it, else the one the rule
        finds. When several would do, only the person can say: ``invalid_grant`` sends the
        relying party back through authorization, where they choose."""
        source = grant_source(self.request)
        self.request.acting = None
        self.request.organisation_id = source.organisation_id
        if not claims.asks_for_organisation(scope, source.claims_request):
            return
        try:
            acting = claims.acting_for(
                user.id, self.request.client, source.organisation_id, self.server.settings.catalogue
            )
        except claims.ChoiceNeeded:
            raise InvalidGrantError(
                "The person now acts for several organisations: send them through authorization "
                "to choose one."
            ) from None
        self.request.acting = acting
        self.request.organisation_id = acting.organisation_id if acting else None


class AuthorizationCodeGrant(_SignThenWrite, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return random_token(32)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        context = request.idp_context
        data = request.payload.data
        now = clock.now()
        store.insert_code(
            {
                "code_hash": token_hash(code),
                "family_id": random_token(16),
                "client_id": request.client.client_id,
                "user_id": request.user.id,
                "sid": context.sid,
                "organisation_id": context.organisation_id,
                "redirect_uri": request.payload.redirect_uri,
                "scope": request.scope,
                "nonce": data.get("nonce"),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "claims_request": context.claims_request,
                "auth_time": context.auth_time,
                "acr": context.acr,
                "amr": context.amr,
                "created_at": now,
                "expires_at": now
                + timedelta(seconds=self.server.settings.oidc.authorization_code_ttl),
            }
        )

    def query_authorization_code(self, code: str, client: Any) -> store.IssuedCode | None:
        row = store.find_code(code)
        if row is None:
            return None
        if row.used_at is not None:
            # A second redemption: every token issued from this code is revoked.
            raise ReplayDetected(row.family_id, "Invalid 'code' in request.")
        if row.client_id != client.client_id or row.expires_at <= clock.now():
            return None
        return row

    def delete_authorization_code(self, authorization_code: Any) -> None:
        """Not used: ``retire_code`` marks the code used."""

    def authenticate_user(self, authorization_code: store.IssuedCode) -> Any:
        return store.active_subject(authorization_code.user_id)

    def create_token_response(self) -> tuple[int, Any, Any]:
        code = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("There is no active user for this code.")
        return self._respond(
            user,
            code.get_scope(),
            self.request.client.check_grant_type("refresh_token"),
            self.retire_code,
        )

    def retire_code(self) -> None:
        code = self.request.authorization_code
        if not store.mark_code_used(code.id):
            # Another request redeemed it between our read and now, or its sign-in session
            # has ended (a sign-out retires the session's codes; its tokens are revoked).
            raise ReplayDetected(code.family_id, "Invalid 'code' in request.")


class RefreshTokenGrant(_SignThenWrite, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenMatch | None:
        row = store.token_by_refresh(refresh_token)
        if row is None or row.client_disabled_at is not None:
            return None
        if row.refresh_revoked_at is not None:
            raise ReplayDetected(row.family_id)
        if row.refresh_expires_at is None or row.refresh_expires_at <= clock.now():
            return None
        return TokenMatch(row, "refresh_token")

    def authenticate_user(self, refresh_token: TokenMatch) -> Any:
        if refresh_token.row.user_status != UserStatus.ACTIVE:
            raise InvalidGrantError("The grant is no longer valid.")
        return store.subject_of(refresh_token.row)

    def create_token_response(self) -> tuple[int, Any, Any]:
        old: TokenMatch = self.request.refresh_token
        user = self.authenticate_user(old)
        scope = self.request.payload.scope or old.get_scope()
        return self._respond(user, scope, True, self.rotate)

    def rotate(self) -> None:
        old: TokenMatch = self.request.refresh_token
        if not store.rotate_refresh(old.row.id):
            # Another request rotated this token first: a replay.
            raise ReplayDetected(old.row.family_id)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """A confidential client calling the provider's API as itself (RFC 6749 4.4), with at most
    the API scopes an operator granted it. No refresh token, no ID token, no user."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_requested_scope(self) -> None:
        requested = (self.request.payload.scope or "").split()
        if any(s not in self.request.client.api_scopes for s in requested):
            # Not echoed: RFC 6749 §5.2 allows only printable ASCII in error_description.
            raise InvalidScopeError("A requested scope is not granted to this client.")

    def create_token_response(self) -> tuple[int, Any, Any]:
        client = self.request.client
        requested = (self.request.payload.scope or "").split()
        scope = (
            " ".join(dict.fromkeys(requested)) if requested else " ".join(sorted(client.api_scopes))
        )
        token = self.server.generate_token(
            grant_type=self.GRANT_TYPE, client=client, scope=scope, include_refresh_token=False
        )
        store_client_token(token, client.client_id)
        return 200, token, self.TOKEN_RESPONSE_HEADER
