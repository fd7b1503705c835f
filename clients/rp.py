"""One factory for the three demo services: sign-in with Authlib's OpenID Connect client
(authorization code, PKCE S256, state and nonce; the ID token checked against the provider's
JWKS), authorisation by the roles in the token, and sign-out through the provider."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, jsonify, redirect, render_template, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class View:
    """What a signed-in person sees: a template and its values, or a refusal."""

    template: str
    context: dict[str, Any]
    status: int = 200


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    client_id: str
    colour: str
    view: Callable[[dict[str, Any]], View]
    scope: str = "openid profile email roles"


def create_rp_app(
    service: Service,
    *,
    issuer: str,
    client_secret: str,
    base_url: str,
    secret_key: str | None = None,
    timeout: float = 10,
) -> Flask:
    app = Flask(__name__, template_folder="templates")
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME=f"rp_{service.key}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=service.client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": service.scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": timeout,
        },
    )
    client = oauth.create_client("idp")
    assert client is not None
    callback = f"{base_url}/callback"

    # Sessions the provider said have ended (back-channel logout). One process serves each demo
    # service; a real service would keep this where all its instances can see it.
    ended_sids: set[str] = set()
    app.extensions["rp.ended_sids"] = ended_sids

    @app.before_request
    def forget_ended_sessions() -> None:
        user = session.get("user")
        if user and user.get("sid") in ended_sids:
            session.clear()

    @app.context_processor
    def brand() -> dict[str, Any]:
        return {"service": service, "user": session.get("user")}

    @app.get("/")
    def home() -> Any:
        user = session.get("user")
        if user is None:
            return render_template("signed_out.html")
        shown = service.view(user)
        return render_template(shown.template, **shown.context), shown.status

    @app.get("/login")
    def login() -> Any:
        session.pop("user", None)
        return client.authorize_redirect(callback, nonce=secrets.token_urlsafe(16))

    @app.get("/callback")
    def callback_view() -> Any:
        if "error" in request.args:
            return render_template(
                "problem.html",
                title="You were not signed in",
                message=request.args.get("error_description") or request.args["error"],
            ), 400
        try:
            token = client.authorize_access_token()
        except OAuthError as exc:
            return render_template(
                "problem.html", title="Sign-in failed", message=exc.description or exc.error
            ), 400
        claims = dict(token["userinfo"])  # the ID token, verified (signature, iss, aud, nonce)
        session["user"] = {
            key: claims.get(key)
            for key in ("sub", "name", "given_name", "email", "org", "roles", "sid", "amr")
        }
        session["id_token"] = token.get("id_token")
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        id_token = session.get("id_token")
        session.clear()
        metadata = client.load_server_metadata()
        query = {"post_logout_redirect_uri": f"{base_url}/", "client_id": service.client_id}
        if id_token:
            query["id_token_hint"] = id_token
        return redirect(f"{metadata['end_session_endpoint']}?{urlencode(query)}")

    @app.post("/backchannel-logout")
    def backchannel_logout() -> Any:
        """OpenID Connect Back-Channel Logout 1.0, §2.6: validate the logout token, end the
        session it names, answer 200 (400 for a token that does not validate)."""
        try:
            claims = validate_logout_token(
                request.form.get("logout_token", ""),
                client.fetch_jwk_set(),
                issuer,
                service.client_id,
            )
        except (JoseError, ValueError) as exc:
            response = jsonify(error="invalid_request", error_description=str(exc))
            response.status_code = 400
        else:
            ended_sids.add(claims["sid"])
            response = app.response_class(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def validate_logout_token(
    token: str, jwks: dict[str, Any], issuer: str, client_id: str
) -> dict[str, Any]:
    """The claims of a valid logout token, or an error saying why it is not (§2.6)."""
    if not token:
        raise ValueError("no logout_token")
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    if decoded.header.get("typ") != "logout+jwt":
        raise ValueError("not a logout token (typ)")
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        sid={"essential": True},
    ).validate(decoded.claims)
    claims = decoded.claims
    if not isinstance(claims.get("events"), dict) or LOGOUT_EVENT not in claims["events"]:
        raise ValueError("no back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token has no nonce")
    return claims
