"""``private_key_jwt`` client authentication (RFC 7523 §2.2, OIDC Core §9): the client signs a
short-lived assertion with a key whose public half it registered (``jwks``, or ``jwks_uri``
fetched with a timeout, through ``idp.outbound`` for a self-registered client, and cached for
a few minutes). Only RS256 and ES256 are accepted. The
audience must be this provider, the issuer or the token endpoint; a list is taken only when
every value in it is one of these. A list naming any other server is refused: an assertion
made for several could be replayed here by any of them (the audience injection that led the
OpenID Foundation to ask for a single ``aud`` in 2025). Each assertion's ``jti`` works once (it
is remembered until the assertion's ``exp`` plus the leeway Authlib allows past it)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from idp import clock, outbound
from idp.extensions import db
from idp.models import Client, ClientAssertion
from idp.oidc.store import ClientInfo
from idp.security import token_hash

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256", "ES256"]
JWKS_CACHE_SECONDS = 300
MAX_LIFETIME = timedelta(minutes=10)
_jwks_cache: dict[tuple[str, bool], tuple[float, dict[str, Any]]] = {}


def fetch_jwks(uri: str, *, allow_private: bool, timeout: float = 5.0) -> dict[str, Any]:
    """The key set at ``uri``, guarded by ``idp.outbound`` unless ``allow_private``."""
    cached = _jwks_cache.get((uri, allow_private))
    if cached and cached[0] > time.monotonic():
        return cached[1]
    with outbound.urlopen(uri, timeout=timeout, allow_private=allow_private) as response:
        keys = json.loads(response.read(200_000))
    _jwks_cache[(uri, allow_private)] = (time.monotonic() + JWKS_CACHE_SECONDS, keys)
    return keys


def _self_registered(client_id: str) -> bool:
    registered = select(Client.registration_token_hash).where(Client.client_id == client_id)
    return db.session.scalar(registered) is not None


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __call__(self, query_client: Any, request: Any) -> Any:
        try:
            return super().__call__(query_client, request)
        except InvalidClientError as exc:
            exc.status_code = 401  # as for a wrong secret
            raise

    def get_audiences(self) -> list[str]:
        issuer = current_app.extensions["idp.settings"].oidc.issuer
        return [issuer, issuer + url_for("oidc.token")]

    def resolve_client_public_key(self, client: ClientInfo) -> KeySet:
        metadata = client.extra_metadata
        try:
            if metadata.get("jwks"):
                return KeySet.import_key_set(metadata["jwks"])
            if metadata.get("jwks_uri"):
                allow = outbound.allows_private(
                    _self_registered(client.client_id),
                    deployment_allows=current_app.extensions[
                        "idp.settings"
                    ].oidc.registration_allows_private_addresses,
                )
                keys = fetch_jwks(metadata["jwks_uri"], allow_private=allow)
                return KeySet.import_key_set(keys)  # type: ignore[arg-type]
        except (OSError, ValueError, JoseError) as exc:
            log.warning("private_key_jwt: no usable keys for %s: %s", client.client_id, exc)
        raise InvalidClientError(description="The client has no usable registered keys.")

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The client assertion is not valid.") from exc
        self.verify_claims(token.claims)
        audience = token.claims.get("aud")
        ours = self.get_audiences()
        named = audience if isinstance(audience, list) else [audience]
        if not named or any(value not in ours for value in named):
            raise InvalidClientError(description="The client assertion is not for this server.")
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Record the assertion; False if it was seen before (a replay).

        Authlib accepts an assertion until ``exp`` plus ``self.leeway`` (60 s by default, for
        clock skew), so its ``jti`` is remembered that long too: forgotten at ``exp``, the
        assertion could be replayed for the rest of the leeway."""
        now = clock.now()
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        if expires - now > MAX_LIFETIME:
            raise InvalidClientError(description="The client assertion lives too long.")
        expires += timedelta(seconds=self.leeway)
        table = ClientAssertion.__table__
        db.session.execute(delete(table).where(table.c.expires_at < now))
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(table),
                    {
                        "jti_hash": token_hash(f"{claims['sub']}:{jti}"),
                        "client_id": claims["sub"],
                        "expires_at": expires,
                    },
                )
        except IntegrityError:
            return False
        return True
