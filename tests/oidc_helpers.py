"""A relying party in a test: drives the provider's HTTP endpoints the way a real one does and
checks ID tokens with PyJWT against the published JWKS (never with the provider's own code)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, RegisteredClient

ISSUER = "http://localhost"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: TestResponse | str) -> str:
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@dataclass
class Callback:
    url: str
    params: dict[str, str]

    @property
    def code(self) -> str:
        return self.params["code"]


@dataclass
class Request:
    params: dict[str, str]
    verifier: str

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


@dataclass
class RelyingParty:
    http: FlaskClient
    registered: RegisteredClient
    issuer: str = ISSUER
    last: Request | None = field(default=None)
    # For private_key_jwt clients: makes a fresh signed client assertion.
    assertion: Callable[[], str] | None = field(default=None)

    @property
    def client_id(self) -> str:
        return self.registered.client_id

    # -- authorization ------------------------------------------------------------------

    def request(self, **overrides: Any) -> Request:
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.registered.redirect_uri,
            "scope": "openid profile email roles",
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        self.last = Request(params, verifier)
        return self.last

    def authorize(self, **overrides: Any) -> TestResponse:
        request = self.request(**overrides)
        return self.http.get("/authorize?" + urlencode(request.params))

    def follow(self, response: TestResponse, limit: int = 10) -> TestResponse | Callback:
        """Follow redirects inside the provider; stop at the client's redirect URI."""
        for _ in range(limit):
            if response.status_code not in (301, 302, 303):
                return response
            location = response.headers["Location"]
            if location.startswith(self.registered.redirect_uri) or location.startswith(
                self.registered.post_logout_redirect_uri
            ):
                query = parse_qs(urlsplit(location).query)
                return Callback(location, {k: v[0] for k, v in query.items()})
            parts = urlsplit(location)
            response = self.http.get(parts.path + ("?" + parts.query if parts.query else ""))
        raise AssertionError("too many redirects")

    def submit_login(
        self, page: TestResponse, email: str, password: str = PASSWORD
    ) -> TestResponse:
        assert page.status_code == 200 and "Sign in" in page.get_data(as_text=True)
        form = {"csrf_token": csrf_token(page), "email": email, "password": password}
        ix = re.search(r'name="ix" value="([^"]+)"', page.get_data(as_text=True))
        if ix:
            form["ix"] = ix.group(1)
        return self.http.post("/login", data=form)

    def sign_in(self, email: str, password: str = PASSWORD, **overrides: Any) -> Callback:
        """The whole front channel: authorize, sign in if asked, back to the client."""
        result = self.follow(self.authorize(**overrides))
        if isinstance(result, Callback):
            return result
        result = self.follow(self.submit_login(result, email, password))
        assert isinstance(result, Callback), result.get_data(as_text=True)[:500]
        return result

    # -- token endpoint -----------------------------------------------------------------

    def _auth(self, form: dict[str, str], auth: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if auth == "basic":
            assert self.registered.secret
            raw = f"{self.client_id}:{self.registered.secret}".encode()
            kwargs["headers"] = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        elif auth == "post":
            form["client_id"] = self.client_id
            form["client_secret"] = self.registered.secret or ""
        elif auth == "private_key_jwt":
            assert self.assertion is not None, "no assertion factory"
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = self.assertion()
        else:
            form["client_id"] = self.client_id
        kwargs["data"] = form
        return kwargs

    def default_auth(self) -> str:
        if self.assertion is not None:
            return "private_key_jwt"
        return "none" if self.registered.secret is None else "basic"

    def exchange(
        self,
        code: str,
        *,
        verifier: str | None = None,
        auth: str | None = None,
        redirect_uri: str | None = None,
    ) -> TestResponse:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.registered.redirect_uri,
        }
        verifier = verifier if verifier is not None else (self.last.verifier if self.last else None)
        if verifier:
            form["code_verifier"] = verifier
        return self.http.post("/token", **self._auth(form, auth or self.default_auth()))

    def refresh(self, refresh_token: str, *, auth: str | None = None, **extra: str) -> TestResponse:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        return self.http.post("/token", **self._auth(form, auth or self.default_auth()))

    def tokens(self, email: str, password: str = PASSWORD, **overrides: Any) -> dict[str, Any]:
        callback = self.sign_in(email, password, **overrides)
        response = self.exchange(callback.code)
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    def revoke(self, token: str, hint: str | None = None) -> TestResponse:
        form = {"token": token}
        if hint:
            form["token_type_hint"] = hint
        return self.http.post("/revoke", **self._auth(form, self.default_auth()))

    def introspect(self, token: str) -> TestResponse:
        return self.http.post("/introspect", **self._auth({"token": token}, "basic"))

    def userinfo(self, access_token: str) -> TestResponse:
        return self.http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    # -- ID tokens ----------------------------------------------------------------------

    def verify_id_token(
        self, id_token: str, *, nonce: str | None = None, leeway: int = 0
    ) -> dict[str, Any]:
        """Verify with PyJWT against the JWKS the provider publishes."""
        jwks = self.http.get("/jwks.json").get_json()
        header = jwt.get_unverified_header(id_token)
        matching = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        assert matching, f"kid {header['kid']} is not published"
        key = jwt.PyJWK(matching[0])
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[matching[0]["alg"]],
            audience=self.client_id,
            issuer=self.issuer,
            leeway=leeway,
        )
        if nonce is not None:
            assert claims["nonce"] == nonce
        return claims
