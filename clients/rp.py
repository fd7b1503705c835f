"""One factory for every demo service: sign-in with Authlib's OpenID Connect client
(authorization code, PKCE S256, state and nonce; the ID token checked against the provider's
JWKS), authorisation by the roles in the token, sign-out through the provider, the provider's
API called with a client_credentials token, and, for a service that keeps people's data, the
user-data endpoint the provider asks before deleting someone."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, jsonify, redirect, render_template, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from markupsafe import escape

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
USER_DATA_TYPE = "user-data+jwt"


class ProviderApi:
    """The provider's API, called as the service itself: a client_credentials token, fetched
    when needed and reused until shortly before it expires."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, timeout: float = 10):
        self.issuer, self.timeout = issuer, timeout
        self.session = OAuth2Session(
            client_id, client_secret, token_endpoint_auth_method="client_secret_basic"
        )
        self.token_endpoint: str | None = None
        self.lock = threading.Lock()

    def _token(self) -> None:
        with self.lock:
            token = self.session.token
            if token and token.get("expires_at", 0) > time.time() + 30:
                return
            if self.token_endpoint is None:
                metadata = requests.get(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=self.timeout
                ).json()
                self.token_endpoint = metadata["token_endpoint"]
            self.session.fetch_token(
                self.token_endpoint, grant_type="client_credentials", timeout=self.timeout
            )

    def get(self, path: str, **params: Any) -> dict[str, Any] | None:
        """The JSON the API answers, or None when it cannot be had (the page says so)."""
        try:
            self._token()
            response = self.session.get(f"{self.issuer}{path}", params=params, timeout=self.timeout)
        except (OSError, OAuthError, ValueError, KeyError):
            return None
        return response.json() if response.status_code == 200 else None

    def people(self, org_code: str, **filters: Any) -> list[dict[str, Any]] | None:
        """Every person at ``org_code`` holding a role for this service, page by page."""
        found: list[dict[str, Any]] = []
        page = 1
        while page <= 50:
            body = self.get(
                f"/api/organisations/{org_code}/users", page=page, per_page=100, **filters
            )
            if body is None:
                return None
            found.extend(body["users"])
            if "next" not in body:
                return found
            page += 1
        return found


class Records:
    """What a service keeps of each person at each centre (Submit for Assessment's
    submissions, the Primary support site's Progression Test groups): the data the provider
    asks about before someone is deleted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.met: set[tuple[str, str]] = set()

    def keep_once(
        self, org: str, sub: str, make: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """What ``sub`` keeps at ``org``, made by ``make`` the first time they are met (never
        again: what was transferred away stays away)."""
        with self.lock:
            if (org, sub) not in self.met:
                self.met.add((org, sub))
                self.items.setdefault((org, sub), []).extend(make())
            return list(self.items.get((org, sub), []))

    def of(self, org: str, sub: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items.get((org, sub), []))

    def of_org(self, org: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for (o, _), items in self.items.items() if o == org for item in items]

    def move(self, org: str, sub: str, to: str, to_name: str) -> int:
        with self.lock:
            moved = self.items.pop((org, sub), [])
            for item in moved:
                item.update(owner=to, teacher=to_name)
            self.items.setdefault((org, to), []).extend(moved)
            return len(moved)


@dataclass
class Backend:
    """What a service reaches besides the signed-in person: the provider's API and its own
    records."""

    api: ProviderApi
    records: Records = field(default_factory=Records)


@dataclass(frozen=True)
class View:
    """What a signed-in person sees: a template and its values, or a refusal."""

    template: str
    context: dict[str, Any]
    status: int = 200


@dataclass(frozen=True)
class Service:
    """One demo service: its catalogue key, name, client id, colour and port, what each of its
    roles means (shown to the person with the claims received), and which page a signed-in
    person sees (``view``)."""

    key: str
    name: str
    client_id: str
    colour: str
    view: Callable[[dict[str, Any], Backend], View]
    port: int = 0
    roles: Mapping[str, str] = field(default_factory=dict)
    scope: str = "openid profile email roles"
    # A service that keeps people's data answers the provider's user-data requests: what it
    # holds of a person (a summary, empty for nothing, None when it cannot tell just now), and
    # moving it to another person (None, or why not).
    holds: Callable[[Backend, str, str], str | None] | None = None
    transfer: Callable[[Backend, str, str, str], str | None] | None = None


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
            "default_timeout": timeout,
        },
    )
    client = oauth.create_client("idp")
    assert client is not None
    callback = f"{base_url}/callback"

    # Sessions the provider said have ended (back-channel logout). One process serves each demo
    # service; a real service would keep this where all its instances can see it.
    ended_sids: set[str] = set()
    app.extensions["rp.ended_sids"] = ended_sids
    backend = Backend(ProviderApi(issuer, service.client_id, client_secret, timeout))
    app.extensions["rp.backend"] = backend
    seen_requests: dict[str, float] = {}  # jti -> exp: each user-data request is answered once
    seen_lock = threading.Lock()

    @app.before_request
    def forget_ended_sessions() -> None:
        user = session.get("user")
        if user and user.get("sid") in ended_sids:
            session.clear()

    @app.context_processor
    def brand() -> dict[str, Any]:
        # The provider's home page: where a refusal sends the person back to.
        return {"service": service, "user": session.get("user"), "home_url": f"{issuer}/"}

    @app.get("/")
    def home() -> Any:
        user = session.get("user")
        if user is None:
            return render_template("signed_out.html")
        shown = service.view(user, backend)
        return render_template(shown.template, **shown.context), shown.status

    @app.get("/favicon.ico")
    def favicon() -> Any:
        """The service's initials on its colour: each demo service tells itself apart in a
        browser's tabs (and browsers stop asking for a favicon that is not there)."""
        initials = escape("".join(w[0] for w in service.name.split() if w[0].isupper())[:3])
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
            f'<rect width="32" height="32" rx="6" fill="{escape(service.colour)}"/>'
            '<text x="16" y="21" font-family="Arial,sans-serif" font-size="12" font-weight="700"'
            f' fill="#fff" text-anchor="middle">{initials}</text></svg>'
        )
        response = app.response_class(svg, mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @app.get("/login")
    def login() -> Any:
        session.pop("user", None)
        session.pop("landing", None)
        return client.authorize_redirect(callback, nonce=secrets.token_urlsafe(16))

    @app.route("/initiate-login", methods=["GET", "POST"])
    def initiate_login() -> Any:
        """OpenID Connect Core 1.0 §4: the provider (a tile on its home page) asks this service
        to start a sign-in. Only our own provider may (``iss``); its ``login_hint`` goes on to
        the authorization request; ``target_link_uri`` is where to land afterwards, on this
        service's own origin only (anything else lands on the home page: no open redirect)."""
        if request.values.get("iss") != issuer:
            return render_template(
                "problem.html",
                title="This sign-in was not started by our identity provider",
                message="The link that brought you here names another provider, or none. "
                "Sign in from this service's own page instead.",
            ), 400
        session.pop("user", None)
        session["landing"] = own_path(request.values.get("target_link_uri", ""), base_url)
        extra = (
            {"login_hint": request.values["login_hint"]} if "login_hint" in request.values else {}
        )
        return client.authorize_redirect(callback, nonce=secrets.token_urlsafe(16), **extra)

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
        landing = session.pop("landing", "/")
        return redirect(url_for("home") if landing == "/" else base_url.rstrip("/") + landing)

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

    @app.post("/user-data")
    def user_data() -> Any:
        """The provider asks what this service holds of a person, or has it moved to another
        person, before deleting them: a JWT it signed, checked against its JWKS."""

        def answer(body: dict[str, Any], status: int = 200) -> Any:
            response = jsonify(body)
            response.status_code = status
            response.headers["Cache-Control"] = "no-store"
            return response

        if service.holds is None or service.transfer is None:
            return answer({"error": "not_found"}, 404)
        try:
            claims = validate_user_data_request(
                request.form.get("request", ""), client.fetch_jwk_set(), issuer, service.client_id
            )
        except (JoseError, ValueError) as exc:
            return answer({"error": "invalid_request", "error_description": str(exc)}, 400)
        with seen_lock:
            now = time.time()
            for jti in [j for j, exp in seen_requests.items() if exp < now]:
                del seen_requests[jti]
            replayed = claims["jti"] in seen_requests
            seen_requests[claims["jti"]] = claims["exp"]
        if replayed:
            return answer({"error": "invalid_request", "error_description": "replayed"}, 400)
        org, sub = claims["org"], claims["sub"]
        if claims["action"] == "query":
            summary = service.holds(backend, org, sub)
            if summary is None:  # the provider counts this as holding data
                return answer({"error": "temporarily_unavailable"}, 503)
            return answer({"holds_data": bool(summary), "summary": summary})
        problem = service.transfer(backend, org, sub, str(claims.get("transfer_to", "")))
        if problem:
            return answer({"error": "transfer_refused", "error_description": problem}, 409)
        return answer({"transferred": True})

    return app


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def own_path(url: str, base_url: str) -> str:
    """The path (and query) of ``url`` when it is a page on the origin of ``base_url``; "/"
    for anything else. It is joined back to ``base_url``, never sent alone, and starts with one
    slash, so a path such as ``//elsewhere`` cannot lead off the service. The sign-in's own
    endpoints are no landing: a crafted ``/callback?error_description=…`` would put a
    stranger's words on the service's page right after a genuine sign-in."""
    if not url or _origin(url) is None or _origin(url) != _origin(base_url):
        return "/"
    parts = urlsplit(url)
    path = "/" + parts.path.lstrip("/")
    if path.rstrip("/") in PROTOCOL_PATHS:
        return "/"
    return path + ("?" + parts.query if parts.query else "")


# Where the provider and the browser talk to the service about signing in, not pages to land on.
PROTOCOL_PATHS = frozenset(
    {"/login", "/callback", "/initiate-login", "/logout", "/backchannel-logout", "/user-data"}
)


def _validate(
    token: str, jwks: dict[str, Any], issuer: str, client_id: str, typ: str, **essential: Any
) -> dict[str, Any]:
    """The claims of a JWT the provider signed for this client, with header ``typ``."""
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    if decoded.header.get("typ") != typ:
        raise ValueError(f"not a {typ} token (typ)")
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        **essential,
    ).validate(decoded.claims)
    return dict(decoded.claims)


def validate_user_data_request(
    token: str, jwks: dict[str, Any], issuer: str, client_id: str
) -> dict[str, Any]:
    """The claims of a valid user-data request, or an error saying why it is not."""
    if not token:
        raise ValueError("no request")
    claims = _validate(
        token,
        jwks,
        issuer,
        client_id,
        USER_DATA_TYPE,
        sub={"essential": True},
        org={"essential": True},
        action={"essential": True, "values": ["query", "transfer"]},
    )
    if claims["action"] == "transfer" and not claims.get("transfer_to"):
        raise ValueError("a transfer names its recipient (transfer_to)")
    return claims


def validate_logout_token(
    token: str, jwks: dict[str, Any], issuer: str, client_id: str
) -> dict[str, Any]:
    """The claims of a valid logout token, or an error saying why it is not (§2.6)."""
    if not token:
        raise ValueError("no logout_token")
    claims = _validate(token, jwks, issuer, client_id, "logout+jwt", sid={"essential": True})
    if not isinstance(claims.get("events"), dict) or LOGOUT_EVENT not in claims["events"]:
        raise ValueError("no back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token has no nonce")
    return claims
