"""The discovery document (OpenID Connect Discovery 1.0, RFC 8414), built from the routes."""

from __future__ import annotations

from typing import Any

from flask import url_for

from idp import languages
from idp.domain.clients import API_SCOPES
from idp.oidc.claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from idp.oidc.server import IdpAuthorizationServer


def discovery_document(server: IdpAuthorizationServer) -> dict[str, Any]:
    issuer = server.settings.oidc.issuer

    def endpoint(name: str) -> str:
        return issuer + url_for(name)

    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint("oidc.authorize"),
        "token_endpoint": endpoint("oidc.token"),
        "userinfo_endpoint": endpoint("oidc.userinfo"),
        "jwks_uri": endpoint("oidc.jwks"),
        "revocation_endpoint": endpoint("oidc.revoke"),
        "introspection_endpoint": endpoint("oidc.introspect"),
        "end_session_endpoint": endpoint("oidc.end_session"),
        "registration_endpoint": endpoint("registration.register"),
        "scopes_supported": [*SUPPORTED_SCOPES, *API_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        # What the keyring can sign with now: the document is rebuilt when the keyring is
        # reloaded (``routes.discovery``, ``PublicDocuments``), so a rotation shows here.
        "id_token_signing_alg_values_supported": server.keyring.signing_algorithms(),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": ["1", "2"],
        "ui_locales_supported": list(languages.SUPPORTED),
        "claims_locales_supported": ["en"],
        "display_values_supported": ["page"],
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
