"""A stand-in for Google in the demo: a small OpenID provider on 127.0.0.1 that the provider
connects accounts to through the same ``[[upstream]]`` code path as Google's (discovery, the
authorization code with PKCE S256, an RS256 ID token checked against its JWKS).

Demo only, and its pages say so ("Demo stand-in for Google — not Google"): it knows one client
(the provider, with one redirect URI, compared exactly), keeps its codes and tokens in memory,
signs with a key made when it starts, and asks for no password: the person types who they are
"at Google". Everything else is held to the protocol: the form carries a token bound to the
browser's session, a code is used once and within a minute, the token endpoint checks the
client's secret (``client_secret_basic`` or ``client_secret_post``), the redirect URI and the
PKCE verifier, and the ID token carries the request's ``nonce`` and an ``at_hash``.

``python -m clients.upstream`` serves it under gunicorn, reading ``UPSTREAM_CLIENT_ID``,
``UPSTREAM_CLIENT_SECRET``, ``UPSTREAM_REDIRECT_URI`` (the provider's callback) and
``UPSTREAM_PORT`` (default 5110) from the environment. ``idp demo`` starts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask, jsonify, redirect, render_template, request, session, url_for
from joserfc import jwt
from joserfc.jwk import RSAKey

from clients.run import serve

PORT = 5110
CODE_TTL = 60
TOKEN_TTL = 600
EXAMPLE = {"email": "sam.sample@example.com", "name": "Sam Sample"}
PENDING_KEPT = 5  # sign-ins under way in one browser (tabs)


@dataclass(frozen=True)
class Registration:
    """The one client the stand-in knows: the provider."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class Grant:
    """What an authorization code stands for until it is exchanged."""

    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]
    expires_at: float


@dataclass
class Store:
    """Codes and access tokens, in memory: one process serves the stand-in."""

    clock: Callable[[], float]
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _purge(self) -> None:
        now = self.clock()
        self.codes = {c: g for c, g in self.codes.items() if g.expires_at > now}
        self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}

    def issue_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self._purge()
            self.codes[code] = grant
        return code

    def take_code(self, code: str) -> Grant | None:
        """The code's grant, once: a code is gone after its first use, right or wrong."""
        with self.lock:
            grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at <= self.clock():
            return None
        return grant

    def issue_token(self, claims: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._purge()
            self.tokens[token] = (claims, self.clock() + TOKEN_TTL)
        return token

    def claims_for(self, token: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.tokens.get(token)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]


def subject_for(email: str) -> str:
    """A stable subject for an address, numeric like Google's: the same typed address is the
    same "Google account" after the demo restarts."""
    digest = hashlib.sha256(b"demo-stand-in:" + email.strip().lower().encode()).digest()
    return str(int.from_bytes(digest[:9], "big")).rjust(21, "1")


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def create_upstream_app(
    registration: Registration,
    *,
    issuer: str,
    clock: Callable[[], float] = time.time,
) -> Flask:
    app = Flask(__name__, template_folder="templates")
    app.config.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        # Cookies are shared by every port of 127.0.0.1: a name of its own.
        SESSION_COOKIE_NAME="demo_upstream_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    store = Store(clock)
    app.extensions["upstream.store"] = store

    @app.after_request
    def policy(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
            f"form-action 'self' {_origin(registration.redirect_uri)}"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def problem(message: str, status: int = 400) -> Any:
        return render_template("upstream/problem.html", message=message), status

    def oauth_error(error: str, status: int = 400, **headers: str) -> Any:
        return jsonify(error=error), status, {"Cache-Control": "no-store", **headers}

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=issuer,
            authorization_endpoint=issuer + url_for("authorize"),
            token_endpoint=issuer + url_for("token"),
            userinfo_endpoint=issuer + url_for("userinfo"),
            jwks_uri=issuer + url_for("jwks"),
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported=["S256"],
            grant_types_supported=["authorization_code"],
            claims_supported=["sub", "email", "email_verified", "name"],
            authorization_response_iss_parameter_supported=True,
        )

    @app.get("/jwks.json")
    def jwks() -> Any:
        return jsonify(keys=[key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args
        # Never redirect to an address that is not the registered one (RFC 6749 §4.1.2.1).
        if args.get("client_id") != registration.client_id:
            return problem(
                "This sign-in request comes from an application the stand-in does not know."
            )
        if args.get("redirect_uri") != registration.redirect_uri:
            return problem(
                "This sign-in request asks to return to an address that is not registered."
            )
        state = args.get("state")

        def refuse(error: str) -> Any:
            params = {"error": error, "iss": issuer}
            if state is not None:
                params["state"] = state
            return redirect(_with_query(registration.redirect_uri, params))

        if args.get("response_type") != "code":
            return refuse("unsupported_response_type")
        if "openid" not in args.get("scope", "").split():
            return refuse("invalid_scope")
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return refuse("invalid_request")
        rid = secrets.token_urlsafe(16)
        pending = dict(session.get("pending", {}))
        while len(pending) >= PENDING_KEPT:
            pending.pop(next(iter(pending)))
        pending[rid] = {
            "state": state,
            "nonce": args.get("nonce"),
            "challenge": args["code_challenge"],
        }
        session["pending"] = pending
        session.setdefault("csrf", secrets.token_urlsafe(32))
        last = session.get("last", EXAMPLE)
        return render_template(
            "upstream/authorize.html", rid=rid, email=last["email"], name=last["name"]
        )

    @app.post("/authorize")
    def decide() -> Any:
        form = request.form
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(form.get("csrf_token", ""), expected):
            return problem("This form has expired. Go back to My Cambridge and start again.")
        pending = dict(session.get("pending", {}))
        asked = pending.pop(form.get("rid", ""), None)
        if asked is None:
            return problem(
                "This sign-in request has been answered already. Go back to My Cambridge and"
                " start again."
            )
        answer = {"iss": issuer}
        if asked["state"] is not None:
            answer["state"] = asked["state"]
        if "cancel" in form:
            session["pending"] = pending
            denied = {"error": "access_denied", **answer}
            return redirect(_with_query(registration.redirect_uri, denied))
        email = form.get("email", "").strip()
        name = form.get("name", "").strip()
        local, _, domain = email.partition("@")
        if not local or "." not in domain or len(email) > 254 or len(name) > 100:
            return render_template(
                "upstream/authorize.html",
                rid=form.get("rid"),
                email=email,
                name=name,
                error="Enter an email address such as sam.sample@example.com.",
            ), 400
        session["pending"] = pending
        session["last"] = {"email": email, "name": name}
        claims = {
            "sub": subject_for(email),
            "email": email,
            "email_verified": True,
            "name": name or email,
        }
        code = store.issue_code(
            Grant(
                redirect_uri=registration.redirect_uri,
                challenge=asked["challenge"],
                nonce=asked["nonce"],
                claims=claims,
                expires_at=clock() + CODE_TTL,
            )
        )
        return redirect(_with_query(registration.redirect_uri, {"code": code, **answer}))

    def authenticated_client() -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            if "client_secret" in request.form:
                return False  # one method at a time (RFC 6749 §2.3)
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except ValueError:
                return False
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id = request.form.get("client_id", "")
            secret = request.form.get("client_secret", "")
        return hmac.compare_digest(
            client_id.encode(), registration.client_id.encode()
        ) & hmac.compare_digest(secret.encode(), registration.client_secret.encode())

    @app.post("/token")
    def token() -> Any:
        if not authenticated_client():
            return oauth_error("invalid_client", 401, **{"WWW-Authenticate": 'Basic realm="token"'})
        if request.form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type")
        grant = store.take_code(request.form.get("code", ""))
        if grant is None or request.form.get("redirect_uri") != grant.redirect_uri:
            return oauth_error("invalid_grant")
        verifier = request.form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
            pkce_s256(verifier), grant.challenge
        ):
            return oauth_error("invalid_grant")
        access_token = store.issue_token(grant.claims)
        now = int(clock())
        id_claims = {
            "iss": issuer,
            "aud": registration.client_id,
            "iat": now,
            "exp": now + TOKEN_TTL,
            "auth_time": now,
            "at_hash": at_hash(access_token),
            **grant.claims,
        }
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, id_claims, key)
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
            "scope": "openid email profile",
            "id_token": id_token,
        }
        return jsonify(body), 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Any:
        header = request.headers.get("Authorization", "")
        bearer = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        claims = store.claims_for(bearer)
        if claims is None:
            return oauth_error(
                "invalid_token", 401, **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return jsonify(claims)

    @app.get("/")
    def home() -> Any:
        return render_template("upstream/home.html")

    return app


def app() -> Flask:
    """The WSGI app, configured from the environment (gunicorn's factory)."""
    port = int(os.environ.get("UPSTREAM_PORT", PORT))
    return create_upstream_app(
        Registration(
            client_id=os.environ["UPSTREAM_CLIENT_ID"],
            client_secret=os.environ["UPSTREAM_CLIENT_SECRET"],
            redirect_uri=os.environ["UPSTREAM_REDIRECT_URI"],
        ),
        issuer=f"http://127.0.0.1:{port}",
    )


def main() -> int:
    missing = [
        name
        for name in ("UPSTREAM_CLIENT_ID", "UPSTREAM_CLIENT_SECRET", "UPSTREAM_REDIRECT_URI")
        if not os.environ.get(name)
    ]
    if missing:
        print(f"clients.upstream: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    port = int(os.environ.get("UPSTREAM_PORT", PORT))
    serve("clients.upstream:app()", port)
    return 0  # not reached: serve replaces this process


if __name__ == "__main__":
    raise SystemExit(main())
