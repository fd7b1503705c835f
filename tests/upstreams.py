"""Upstream providers for the connected-accounts tests: a second instance of this provider
(``idp serve`` on its own database and keys) standing in for Google, the demo's own stand-in
for Google (``python -m clients.upstream``), a small stand-in for Facebook's OAuth 2.0 dialog,
token endpoint and Graph API, and a server that never answers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tests.factories import PASSWORD
from tests.mailbox import free_port
from tests.servers import idp_serve, stop

if TYPE_CHECKING:
    from idp.cli import StandIn

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
IX = re.compile(r'name="ix" value="([^"]+)"')
OUR_ISSUER = "http://localhost"


@dataclass
class OpenIDUpstream:
    issuer: str
    client_id: str
    client_secret: str

    def sign_in(self, browser: requests.Session, authorize_url: str, email: str) -> str:
        """Play the browser at the upstream: sign in there if needed; the path and query of
        the redirect back to us."""
        assert authorize_url.startswith(self.issuer + "/authorize?"), authorize_url
        page = browser.get(authorize_url, allow_redirects=False, timeout=10)
        if page.status_code == 302:
            location = page.headers["Location"]
        else:
            form = {
                "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
                "ix": IX.search(page.text).group(1),  # type: ignore[union-attr]
                "email": email,
                "password": PASSWORD,
            }
            response = browser.post(
                self.issuer + "/login", data=form, allow_redirects=False, timeout=10
            )
            location = response.headers["Location"]
            if location.startswith("/authorize/resume?"):  # the sign-in hands back by redirect
                resumed = browser.get(self.issuer + location, allow_redirects=False, timeout=10)
                location = resumed.headers["Location"]
        assert location.startswith(OUR_ISSUER + "/login/with/"), location
        return location.removeprefix(OUR_ISSUER)


def _cli(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "idp.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@contextmanager
def openid_upstream(
    tmp: Path, key: str, people: list[tuple[str, str, str]]
) -> Iterator[OpenIDUpstream]:
    """A second instance of this provider on a loopback port, with its own database, keys and
    ``people`` (email, given name, family name); our test app is registered as its client."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_CONFIG": str(tmp / "empty.toml"),
        "IDP_SECRET_KEY": secrets.token_urlsafe(40),
        "IDP_DATABASE_URL": f"sqlite:///{tmp}/upstream.sqlite3",
        "IDP_OIDC__ISSUER": issuer,
        "IDP_OIDC__KEYS_DIR": str(tmp / "keys"),
        "IDP_INSTANCE_DIR": str(tmp / "instance"),
        "IDP_ACCESS_LOG": "/dev/null",
        "IDP_TESTING": "true",
        "IDP_AUTH__ARGON2_MEMORY_COST": "1024",
        "IDP_AUTH__ARGON2_TIME_COST": "1",
        "IDP_AUTH__NEW_DEVICE_VERIFICATION": "never",
    }
    (tmp / "empty.toml").write_text("")
    _cli(env, "db", "upgrade")
    _cli(env, "keys", "rotate")
    for email, given, family in people:
        _cli(
            env,
            "users",
            "create",
            "--email",
            email,
            "--first-name",
            given,
            "--last-name",
            family,
            "--password",
            PASSWORD,
        )
    client = _cli(
        env,
        "clients",
        "create",
        "--name",
        "My Cambridge",
        "--redirect-uri",
        f"{OUR_ISSUER}/login/with/{key}/callback",
    )
    with idp_serve(env, port, tmp / "server.log", cwd=tmp):
        yield OpenIDUpstream(issuer, client["client_id"], client["client_secret"])


@dataclass
class FacebookState:
    client_id: str = "fb-app-id"
    client_secret: str = "fb-app-secret"
    profile: dict[str, Any] = field(default_factory=dict)  # who is signed in at "Facebook"
    codes: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)


class _Facebook(BaseHTTPRequestHandler):
    state: FacebookState

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/dialog/oauth":
            assert query["client_id"] == self.state.client_id
            assert query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.state.codes[code] = (
                query["code_challenge"],
                query["redirect_uri"],
                dict(self.state.profile),
            )
            target = (
                query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
        elif parts.path == "/me":
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            profile = self.state.tokens.get(bearer)
            if profile is None:
                self._json(401, {"error": {"message": "Invalid OAuth access token."}})
            else:
                self._json(200, profile)
        else:
            self._json(404, {})

    def do_POST(self) -> None:  # noqa: N802
        form = {
            k: v[0]
            for k, v in parse_qs(
                self.rfile.read(int(self.headers["Content-Length"])).decode()
            ).items()
        }
        self.state.token_requests.append(form)
        found = self.state.codes.pop(form.get("code", ""), None)
        if (
            form.get("client_id") != self.state.client_id
            or form.get("client_secret") != self.state.client_secret
        ):
            return self._json(400, {"error": "invalid_client"})
        if found is None:
            return self._json(400, {"error": "invalid_grant"})
        challenge, redirect_uri, profile = found
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        if digest.decode() != challenge or form.get("redirect_uri") != redirect_uri:
            return self._json(400, {"error": "invalid_grant"})
        token = secrets.token_urlsafe(24)
        self.state.tokens[token] = profile
        self._json(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def facebook() -> Iterator[tuple[str, FacebookState]]:
    """Facebook's OAuth dialog, token endpoint and ``/me`` on a loopback port."""
    state = FacebookState()
    handler = type("Facebook", (_Facebook,), {"state": state})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: an upstream that is down in the worst way."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def demo_stand_in(stand_in: StandIn, log: Path) -> Iterator[str]:
    """The demo's stand-in for Google as ``idp demo`` starts it (``python -m clients.upstream``
    under gunicorn, configured from ``stand_in``); yields its issuer once it answers."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "UPSTREAM_"))}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "clients.upstream"],
            env={**environment, **stand_in.environment()},
            cwd=Path(__file__).resolve().parents[1],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = stand_in.issuer + "/.well-known/openid-configuration"
                if requests.get(url, timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the stand-in did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield stand_in.issuer
    finally:
        stop(process)
