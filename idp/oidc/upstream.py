"""The provider as a relying party of Google, Facebook or any OpenID Connect provider
(``[[upstream]]`` in the configuration), through Authlib's Flask client.

Every request upstream carries ``state``, a ``nonce`` (OpenID Connect) and a PKCE S256
challenge; Authlib keeps them in the browser's signed session and checks them on the way back.
An upstream ID token is checked for its signature against the upstream's JWKS, its issuer,
audience, expiry, ``nonce`` and ``at_hash``; an ``iss`` in the authorization response must name
the upstream (RFC 9207). Facebook, which is OAuth 2.0 only, is asked who signed in through its
Graph API with the access token. Every call has the upstream's ``timeout``.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, request
from flask_babel import gettext as _
from joserfc.errors import JoseError

from idp.config import Upstream
from idp.domain.connected import Identity


class UpstreamError(Exception):
    """The upstream sign-in did not give us an identity; ``message`` says why, in words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def init_upstreams(app: Flask, upstreams: tuple[Upstream, ...]) -> None:
    oauth = OAuth(app)
    for upstream in upstreams:
        kwargs: dict[str, Any] = {
            "scope": upstream.scope,
            "code_challenge_method": "S256",
            "default_timeout": upstream.timeout,
        }
        if upstream.kind == "oidc":
            oauth.register(
                upstream.key,
                client_id=upstream.client_id,
                client_secret=upstream.client_secret,
                server_metadata_url=f"{upstream.issuer}/.well-known/openid-configuration",
                client_kwargs=kwargs,
            )
        else:
            oauth.register(
                upstream.key,
                client_id=upstream.client_id,
                client_secret=upstream.client_secret,
                authorize_url=upstream.authorize_url,
                access_token_url=upstream.token_url,
                client_kwargs={**kwargs, "token_endpoint_auth_method": "client_secret_post"},
            )
    app.extensions["idp.upstreams"] = {u.key: u for u in upstreams}
    app.extensions["idp.upstream_clients"] = oauth


def configured() -> dict[str, Upstream]:
    found: dict[str, Upstream] = current_app.extensions["idp.upstreams"]
    return found


def get(key: str) -> Upstream | None:
    return configured().get(key)


def _client(upstream: Upstream) -> Any:
    return current_app.extensions["idp.upstream_clients"].create_client(upstream.key)


def known_authorization_endpoint(upstream: Upstream) -> str:
    """Where ``start`` sends the browser, as far as this process knows without asking: the
    configured URL, or the one an OpenID provider's discovery gave (once read, it is kept)."""
    if upstream.authorize_url:
        return upstream.authorize_url
    metadata = getattr(_client(upstream), "server_metadata", None) or {}
    return str(metadata.get("authorization_endpoint", ""))


def _unreachable(upstream: Upstream) -> UpstreamError:
    return UpstreamError(
        _(
            "%(provider)s did not answer in time. Try again, or sign in with your password.",
            provider=upstream.name,
        )
    )


def start(upstream: Upstream, redirect_uri: str) -> Any:
    """The redirect to the upstream's sign-in page."""
    client = _client(upstream)
    try:
        if upstream.kind == "oidc":
            client.load_server_metadata()
        return client.authorize_redirect(redirect_uri)  # adds a nonce for OpenID Connect
    except requests.RequestException:
        raise _unreachable(upstream) from None


def finish(upstream: Upstream) -> Identity:
    """Back from the upstream: check everything and say who signed in there."""
    client = _client(upstream)
    try:
        if upstream.kind == "oidc":
            metadata = client.load_server_metadata()
            iss = request.args.get("iss")
            if iss is not None and iss != metadata.get("issuer"):
                raise UpstreamError(
                    _("The answer did not come from %(provider)s.", provider=upstream.name)
                )
        token = client.authorize_access_token()
        if upstream.kind == "oidc":
            claims = token.get("userinfo")
            if not claims:
                raise UpstreamError(_("%(provider)s sent no ID token.", provider=upstream.name))
            return Identity(
                upstream=upstream.key,
                subject=str(claims["sub"]),
                email=claims.get("email"),
                email_verified=claims.get("email_verified") is True,
                name=claims.get("name"),
            )
        response = client.get(upstream.userinfo_url, token=token)
        response.raise_for_status()
        profile = response.json()
        if not isinstance(profile, dict) or not profile.get("id"):
            raise UpstreamError(_("%(provider)s did not say who you are.", provider=upstream.name))
        # Facebook only releases an address its owner has confirmed.
        email = profile.get("email") if isinstance(profile.get("email"), str) else None
        return Identity(
            upstream=upstream.key,
            subject=str(profile["id"]),
            email=email,
            email_verified=email is not None,
            name=profile.get("name") if isinstance(profile.get("name"), str) else None,
        )
    except OAuthError as exc:
        if exc.error == "access_denied":
            raise UpstreamError(
                _("You did not allow %(provider)s to sign you in.", provider=upstream.name)
            ) from None
        if exc.error == "mismatching_state":
            raise UpstreamError(
                _(
                    "This answer from %(provider)s does not belong to a sign-in started in this"
                    " browser, or it was used already. Start again.",
                    provider=upstream.name,
                )
            ) from None
        raise UpstreamError(
            _(
                "%(provider)s refused the sign-in (%(error)s). Start again.",
                provider=upstream.name,
                error=exc.error,
            )
        ) from None
    except requests.RequestException:
        raise _unreachable(upstream) from None
    except (JoseError, ValueError, KeyError):
        raise UpstreamError(
            _("The answer from %(provider)s could not be checked.", provider=upstream.name)
        ) from None
