"""The authorization endpoint as a list of named checks, then a decision.

Each check is one protocol rule. Until the client and its redirect URI are trusted
(``trusted_client``, ``trusted_redirect_uri``) errors are shown on an error page (we never
redirect to a URI we have not matched against the client's registration); after, they go to
the client with ``state`` and ``iss`` (RFC 9207). The decision then asks for a sign-in, the
organisation or consent, each for a named reason (``login_reason``, ``acr_unmet``,
``consent_needed``), or issues the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.datastructures import MultiDict

from idp import clock
from idp.domain import passkeys
from idp.models import AuthSession
from idp.oidc import chooser, store
from idp.oidc import claims as claims_module
from idp.oidc.interactions import ParkedRequest
from idp.oidc.server import IdpAuthorizationServer, InteractionContext
from idp.oidc.store import ClientInfo

SINGLE_VALUED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "claims_locales",
    "display",
    "acr_values",
    "claims",
    "request",
    "request_uri",
    "org_hint",
)
MAX_PARAM_LENGTH = 4096
PROMPTS = {"none", "login", "consent", "select_account"}


class AuthorizeError(Exception):
    """An authorization error; ``redirect`` once the redirect URI is trusted, to the URI of
    ``authorization`` (set by ``validate`` for the checks after the redirect URI's)."""

    def __init__(self, error: str, description: str, *, redirect: bool = True):
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect = redirect
        self.authorization: Authorization | None = None


@dataclass
class Authorization:
    """An authorization request whose client and redirect URI are trusted (``validate``
    builds it once both are), and what the later checks found in it."""

    params: MultiDict[str, str]
    client: ClientInfo
    redirect_uri: str
    scopes: list[str] = field(default_factory=list)
    prompt: set[str] = field(default_factory=set)
    max_age: int | None = None
    hint_sub: str | None = None
    claims_request: dict[str, Any] | None = None

    @property
    def state(self) -> str | None:
        return self.params.get("state")


Check = Callable[[Authorization, IdpAuthorizationServer], None]


def check_parameters_once(authz: Authorization, server: IdpAuthorizationServer) -> None:
    """Request parameters must not repeat (RFC 6749 3.1) nor be oversized."""
    for name in SINGLE_VALUED:
        if len(authz.params.getlist(name)) > 1:
            raise AuthorizeError("invalid_request", f"The '{name}' parameter is repeated.")
    for name, value in authz.params.items(multi=True):
        if len(value) > MAX_PARAM_LENGTH:
            raise AuthorizeError("invalid_request", f"The '{name[:40]}' parameter is too long.")


def trusted_client(params: MultiDict[str, str], server: IdpAuthorizationServer) -> ClientInfo:
    """The registered, enabled client the request names; errors are shown, not redirected."""
    if len(params.getlist("client_id")) > 1:
        raise AuthorizeError(
            "invalid_request", "The 'client_id' parameter is repeated.", redirect=False
        )
    client_id = params.get("client_id")
    if not client_id:
        raise AuthorizeError(
            "invalid_request", "The 'client_id' parameter is missing.", redirect=False
        )
    client = server.query_client(client_id)
    if client is None:
        raise AuthorizeError("invalid_client", "The client is not registered here.", redirect=False)
    return client


def trusted_redirect_uri(params: MultiDict[str, str], client: ClientInfo) -> str:
    """The redirect URI must be present and match a registered one exactly."""
    if len(params.getlist("redirect_uri")) > 1:
        raise AuthorizeError(
            "invalid_request", "The 'redirect_uri' parameter is repeated.", redirect=False
        )
    uri = params.get("redirect_uri")
    if not uri:
        raise AuthorizeError(
            "invalid_request", "The 'redirect_uri' parameter is missing.", redirect=False
        )
    if not client.check_redirect_uri(uri):
        raise AuthorizeError(
            "invalid_request", "The redirect URI is not registered for this client.", redirect=False
        )
    return uri


def check_request_object(authz: Authorization, server: IdpAuthorizationServer) -> None:
    if "request" in authz.params:
        raise AuthorizeError("request_not_supported", "Request objects are not supported.")
    if "request_uri" in authz.params:
        raise AuthorizeError(
            "request_uri_not_supported", "The 'request_uri' parameter is not supported."
        )


def check_response_type(authz: Authorization, server: IdpAuthorizationServer) -> None:
    response_type = authz.params.get("response_type")
    if not response_type:
        raise AuthorizeError("invalid_request", "The 'response_type' parameter is missing.")
    if response_type != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported.")
    if not authz.client.check_response_type(response_type):
        raise AuthorizeError("unauthorized_client", "The client may not use response_type=code.")


def check_response_mode(authz: Authorization, server: IdpAuthorizationServer) -> None:
    mode = authz.params.get("response_mode")
    if mode not in (None, "query"):
        raise AuthorizeError("invalid_request", "Only response_mode=query is supported.")


def check_scope(authz: Authorization, server: IdpAuthorizationServer) -> None:
    """``openid`` is required; scopes unknown here or not allowed to the client are dropped."""
    requested = (authz.params.get("scope") or "").split()
    if "openid" not in requested:
        raise AuthorizeError("invalid_scope", "The 'openid' scope is required.")
    allowed = authz.client.get_allowed_scope(" ".join(requested)).split()
    authz.scopes = [s for s in allowed if s in claims_module.SUPPORTED_SCOPES]


def check_pkce(authz: Authorization, server: IdpAuthorizationServer) -> None:
    """S256 only; required for public clients, accepted from confidential ones (RFC 9700)."""
    challenge = authz.params.get("code_challenge")
    method = authz.params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise AuthorizeError("invalid_request", "The 'code_challenge' parameter is missing.")
        if authz.client.is_public:
            raise AuthorizeError("invalid_request", "PKCE (code_challenge with S256) is required.")
        return
    if method != "S256":
        raise AuthorizeError("invalid_request", "The code_challenge_method must be S256.")
    if not CODE_CHALLENGE_PATTERN.match(challenge):
        raise AuthorizeError("invalid_request", "The 'code_challenge' parameter is malformed.")


def check_prompt(authz: Authorization, server: IdpAuthorizationServer) -> None:
    prompt = set((authz.params.get("prompt") or "").split())
    unknown = prompt - PROMPTS
    if unknown:
        raise AuthorizeError(
            "invalid_request", f"Unsupported prompt value '{sorted(unknown)[0][:40]}'."
        )
    if "none" in prompt and len(prompt) > 1:
        raise AuthorizeError("invalid_request", "prompt=none cannot be combined with other values.")
    authz.prompt = prompt


def check_max_age(authz: Authorization, server: IdpAuthorizationServer) -> None:
    value = authz.params.get("max_age")
    if value is None or value == "":
        return
    if not value.isdigit() or len(value) > 10:
        raise AuthorizeError(
            "invalid_request", "The 'max_age' parameter must be a number of seconds."
        )
    authz.max_age = int(value)


def check_claims(authz: Authorization, server: IdpAuthorizationServer) -> None:
    """The ``claims`` parameter (OIDC Core 5.5) must be a JSON object; the claims it names
    are kept only within ``claims_scopes`` (the others are silently not released)."""
    raw = authz.params.get("claims")
    if not raw:
        return
    try:
        value = json.loads(raw)
    except ValueError:
        raise AuthorizeError(
            "invalid_request", "The 'claims' parameter is not valid JSON."
        ) from None
    if not isinstance(value, dict) or any(
        k in value and not isinstance(value[k], dict | None) for k in ("id_token", "userinfo")
    ):
        raise AuthorizeError("invalid_request", "The 'claims' parameter must be a JSON object.")
    requested = {k: value[k] for k in ("id_token", "userinfo") if isinstance(value.get(k), dict)}
    authz.claims_request = claims_module.within_scopes(requested, claims_scopes(authz))


def claims_scopes(authz: Authorization) -> list[str]:
    """The scopes whose claims the ``claims`` parameter may name: a first-party client's
    allowed scopes (it is granted them without asking), else only this request's scopes (those
    the user consents to, or consented to before: ``consent_covers``)."""
    if authz.client.first_party:
        return authz.client.get_allowed_scope(" ".join(claims_module.SUPPORTED_SCOPES)).split()
    return authz.scopes


def essential_acr_values(claims_request: dict[str, Any] | None) -> list[str] | None:
    """The ``acr`` values an ID token must carry, when ``acr`` is requested as Essential with
    ``value`` or ``values`` (OIDC Core 5.5.1.1); None when any level will do."""
    spec = (claims_request or {}).get("id_token", {}).get("acr")
    if not isinstance(spec, dict) or spec.get("essential") is not True:
        return None
    if isinstance(spec.get("value"), str):
        return [spec["value"]]
    values = spec.get("values")
    if isinstance(values, list) and values:
        return [v for v in values if isinstance(v, str)]
    return None


def check_id_token_hint(authz: Authorization, server: IdpAuthorizationServer) -> None:
    """An ID token hint must be one we signed (it may have expired)."""
    hint = authz.params.get("id_token_hint")
    if not hint:
        return
    claims = verify_own_id_token(hint, server)
    if claims is None:
        raise AuthorizeError(
            "invalid_request", "The 'id_token_hint' is not a valid ID token from here."
        )
    authz.hint_sub = claims.get("sub")


CHECKS: list[Check] = [
    check_parameters_once,
    check_request_object,
    check_response_type,
    check_response_mode,
    check_scope,
    check_pkce,
    check_prompt,
    check_max_age,
    check_claims,
    check_id_token_hint,
]


def validate(params: MultiDict[str, str], server: IdpAuthorizationServer) -> Authorization:
    """The request, once its client and redirect URI are trusted and every check has passed
    in order. The first failure raises AuthorizeError, carrying the trusted request once
    there is one (its error then goes to the redirect URI)."""
    client = trusted_client(params, server)
    authz = Authorization(params, client, trusted_redirect_uri(params, client))
    try:
        for check in CHECKS:
            check(authz, server)
    except AuthorizeError as error:
        error.authorization = authz
        raise
    return authz


def verify_own_id_token(value: str, server: IdpAuthorizationServer) -> dict[str, Any] | None:
    """Claims of an ID token signed by one of our published keys and issued here, else None.

    Expiry is not checked: an ID token hint may have expired (OIDC Core 3.1.2.1).
    """
    try:
        token = jwt.decode(value, server.keyring.keyset(), algorithms=server.keyring.algorithms())
    except (JoseError, ValueError, TypeError):
        return None
    if token.claims.get("iss") != server.settings.oidc.issuer:
        return None
    return dict(token.claims)


# -- the decision ---------------------------------------------------------------------


@dataclass
class Decision:
    """Either ``interaction`` ("login" / "organisation" / "consent") or a ready ``response``."""

    interaction: str | None = None
    response: Any = None


def consent_covers(user_id: int, client: ClientInfo, scopes: list[str]) -> bool:
    """The user consented to every scope before. Scopes are enough: ``check_claims`` keeps a
    third-party client's ``claims`` parameter within the request's scopes."""
    return set(scopes) <= store.consented_scopes(user_id, client.client_id)


def signed_in_here(auth_session: AuthSession | None, interaction: ParkedRequest | None) -> bool:
    """The session was signed in during this very interaction: it satisfies prompt=login,
    max_age (even 0), a hint naming someone else and a higher acr, or asking would loop."""
    return (
        interaction is not None
        and auth_session is not None
        and interaction.authenticated_sid == auth_session.sid
    )


def acr_unmet(authz: Authorization, auth_session: AuthSession | None) -> bool:
    """An essential ``acr`` (OIDC Core 5.5.1.1) the session has not reached."""
    required = essential_acr_values(authz.claims_request)
    return required is not None and auth_session is not None and auth_session.acr not in required


def acr_wanted(authz: Authorization, auth_session: AuthSession | None) -> bool:
    """``acr_values`` (voluntary, OIDC Core 3.1.2.1) asking for "2" above the session's level,
    outside prompt=none: worth a step-up for someone who can (``login_reason``); anyone else
    gets the level reached, as with a voluntary ``acr`` claim."""
    preferred = authz.params.get("acr_values", "").split()
    return (
        essential_acr_values(authz.claims_request) is None
        and auth_session is not None
        and "2" in preferred
        and auth_session.acr not in preferred
        and "none" not in authz.prompt
    )


def login_reason(
    authz: Authorization, auth_session: AuthSession | None, interaction: ParkedRequest | None
) -> str | None:
    """Why the person must sign in (again) before the request goes on, or None."""
    if auth_session is None:
        return "signed out"
    if signed_in_here(auth_session, interaction):
        return None
    user = auth_session.user
    if "login" in authz.prompt:
        return "prompt=login"
    age = (clock.now() - auth_session.auth_time).total_seconds()
    if authz.max_age is not None and age > authz.max_age:
        return "max_age"
    if authz.hint_sub is not None and authz.hint_sub != user.sub:
        return "hint names someone else"
    # Stepping up: signing in again asks for a passkey or the authenticator app (acr "2").
    if (acr_unmet(authz, auth_session) or acr_wanted(authz, auth_session)) and (
        user.has_totp or passkeys.has_any(user)
    ):
        return "step-up"
    return None


def consent_needed(authz: Authorization, user_id: int, interaction: ParkedRequest | None) -> bool:
    """Consent is asked for with prompt=consent, or by a third-party client for scopes the
    person has not agreed to before, unless they consented during this interaction."""
    if interaction is not None and interaction.consented_at is not None:
        return False
    return "consent" in authz.prompt or (
        not authz.client.first_party and not consent_covers(user_id, authz.client, authz.scopes)
    )


def decide(
    authz: Authorization,
    server: IdpAuthorizationServer,
    auth_session: AuthSession | None,
    interaction: ParkedRequest | None,
) -> Decision:
    """Sign in, choose the organisation, consent, in that order, each only when needed (under
    prompt=none, the matching error instead); then issue the code."""
    if auth_session is None or login_reason(authz, auth_session, interaction):
        if "none" in authz.prompt:
            raise AuthorizeError("login_required", "The user must sign in.")
        return Decision(interaction="login")
    if acr_unmet(authz, auth_session):
        # Never a silent downgrade (OIDC Core 5.5.1.1): the request fails instead.
        if "none" in authz.prompt:
            raise AuthorizeError("login_required", "The user must sign in.")
        raise AuthorizeError("access_denied", "The requested authentication level cannot be met.")
    organisation_id = chooser.settle(
        auth_session,
        authz.client,
        wants_org=claims_module.asks_for_organisation(authz.scopes, authz.claims_request),
        prompt=authz.prompt,
        hint=authz.params.get("org_hint"),
        chosen_here=interaction is not None and interaction.organisation_chosen_at is not None,
        catalogue=server.settings.catalogue,
    )
    if isinstance(organisation_id, chooser.Needed):
        if "none" in authz.prompt:
            raise AuthorizeError(
                "account_selection_required", "The user must choose the organisation they act for."
            )
        return Decision(interaction="organisation")
    if consent_needed(authz, auth_session.user_id, interaction):
        if "none" in authz.prompt:
            raise AuthorizeError("consent_required", "The user must consent.")
        return Decision(interaction="consent")
    return Decision(response=issue_code(authz, server, auth_session, organisation_id))


def issue_code(
    authz: Authorization,
    server: IdpAuthorizationServer,
    auth_session: AuthSession,
    organisation_id: int | None,
) -> Any:
    """Let Authlib's grant issue the code, then add ``iss`` to the redirect (RFC 9207)."""
    params = MultiDict(authz.params)
    params.setlist("scope", [" ".join(authz.scopes)])
    request = server.create_oauth2_request(params)
    user = auth_session.user
    request.idp_context = InteractionContext(
        sid=auth_session.sid,
        auth_time=int(auth_session.auth_time.timestamp()),
        amr=list(auth_session.amr),
        acr=auth_session.acr,
        organisation_id=organisation_id,
        claims_request=authz.claims_request,
    )
    # The checks above have validated the request; the grant validates it once more as it
    # issues the code (an error there comes back as an error redirect).
    try:
        grant = server.get_authorization_grant(request)
    except OAuth2Error as error:
        raise AuthorizeError(error.error or "invalid_request", error.description or "") from None
    response = server.create_authorization_response(request=request, grant_user=user, grant=grant)
    if response.location:
        response.location = add_params_to_uri(response.location, server.issuer_params())
    return response


def error_location(
    authz: Authorization, error: AuthorizeError, server: IdpAuthorizationServer
) -> str:
    """The client's redirect URI carrying an error, ``state`` and ``iss``."""
    params = [("error", error.error), ("error_description", error.description)]
    if authz.state:
        params.append(("state", authz.state))
    params.append(("iss", server.settings.oidc.issuer))
    return add_params_to_uri(authz.redirect_uri, params)
