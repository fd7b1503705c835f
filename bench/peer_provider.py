"""The reference provider, panva's oidc-provider (bench/peer/), for ``bench/compare.py``.

Installs it with ``npm ci`` into the git-ignored ``bench/peer/node_modules`` on first use (the
npm registry is the only network it needs; npm's cache serves later installs), runs
``bench/peer/server.mjs`` on a free loopback port with ``NODE_ENV=production``, and signs in
through its built-in development login and consent pages (``devInteractions``), which accept
any login name without checking a password.

Two stores: its in-memory adapter in one node process, or our PostgreSQL adapter
(``bench/peer/pg_adapter.mjs``) in one node process per core (node's ``cluster``: a primary
that forks the workers and serves nothing itself).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.httpclient import Connection, CookieJar, Response, form_body, path_of
from bench.load import MAX_HOPS, AuthorizationRequest, BenchError, RelyingParty
from bench.server import (
    CLK_TCK,
    REPO_ROOT,
    ServerError,
    ServerProcess,
    answers,
    children_of,
    proc_stat,
)

PEER_DIR = REPO_ROOT / "bench" / "peer"
SCRIPT = PEER_DIR / "server.mjs"
PACKAGE = "oidc-provider"
# Its one API (RFC 8707 resource indicator) and scope, as bench/peer/server.mjs defines them.
API_RESOURCE = "urn:idp-bench:api"
API_SCOPE = "api:read"

PROMPT_RE = re.compile(rb'name="prompt" value="([a-z]+)"')
ACTION_RE = re.compile(rb'<form[^>]* action="([^"]+)"')


def pinned_version() -> str:
    """The exact oidc-provider version bench/peer/package.json pins."""
    package = json.loads((PEER_DIR / "package.json").read_text())
    version: str = package["dependencies"][PACKAGE]
    return version


def installed_version(package: str = PACKAGE) -> str | None:
    try:
        manifest = PEER_DIR / "node_modules" / package / "package.json"
        version: str = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version


def missing_packages() -> list[str]:
    """The dependencies of bench/peer/package.json not installed at their pinned version."""
    pinned: dict[str, str] = json.loads((PEER_DIR / "package.json").read_text())["dependencies"]
    return [f"{name}@{v}" for name, v in pinned.items() if installed_version(name) != v]


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        raise ServerError("node is not installed: the comparison needs Node.js >= 20.19 and npm")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def install(log: Any) -> None:
    """``npm ci`` into bench/peer/node_modules unless every pinned version is already there."""
    node_version()  # a clear error first if node is missing
    missing = missing_packages()
    if not missing:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ServerError("npm is not installed: the comparison needs Node.js >= 20.19 and npm")
    log(f"installing {', '.join(missing)} with npm ci into {PEER_DIR / 'node_modules'}")
    # --prefer-offline: what npm's cache holds is not asked for again.
    argv = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"]
    proc = subprocess.run(
        [*argv, "--prefix", str(PEER_DIR)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or missing_packages():
        raise ServerError(f"npm ci failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")


class PeerServer(ServerProcess):
    """oidc-provider: in one node process with its memory store, or, given a PostgreSQL
    ``database_url``, a primary and ``workers`` node processes sharing our PostgreSQL adapter;
    a context manager that always stops it."""

    def __init__(
        self,
        port: int,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        log: Path,
        database_url: str | None = None,
        workers: int = 1,
    ):
        if database_url is None and workers != 1:
            raise ValueError("the memory store lives in one process: workers must be 1")
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.log_path = log
        self.database_url = database_url
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self._workers: tuple[int, ...] = ()

    def start(self, timeout: float = 60.0) -> None:
        node = shutil.which("node")
        if node is None:
            raise ServerError("node is not installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PEER_", "NODE_"))}
        env.update(
            NODE_ENV="production",
            PEER_PORT=str(self.port),
            PEER_CLIENT_ID=self.client_id,
            PEER_CLIENT_SECRET=self.client_secret,
            PEER_REDIRECT_URI=self.redirect_uri,
        )
        if self.database_url is not None:
            env.update(PEER_DATABASE_URL=self.database_url, PEER_WORKERS=str(self.workers))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [node, str(SCRIPT)],
                env=env,
                cwd=PEER_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        # The memory store serves from the process itself; a cluster from its workers.
        expected = 0 if self.database_url is None else self.workers
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                status = self.proc.returncode
                raise ServerError(f"oidc-provider exited with {status}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"oidc-provider not ready after {timeout:.0f} s")
            if answers(self.port, "/.well-known/openid-configuration"):
                self._workers = children_of(self.proc.pid)
                if len(self._workers) == expected:
                    return
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU time of the process (with its ended children) and of its live workers."""
        assert self.proc is not None
        ticks = sum(int(v) for v in proc_stat(self.proc.pid)[11:15])  # utime stime cutime cstime
        for pid in self._workers:
            ticks += sum(int(v) for v in proc_stat(pid)[11:13])
        return ticks / CLK_TCK

    def worker_pids(self) -> tuple[int, ...]:
        return self._workers

    def stop(self) -> None:
        """SIGTERM (the primary passes it to its workers), then SIGKILL to the process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        for pid in self._workers:  # a worker left behind by a primary that died
            try:
                if os.getpgid(pid) == self.proc.pid:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None


class PeerRelyingParty(RelyingParty):
    """The same relying party, signing in through oidc-provider's development pages.

    authorize -> login page -> POST login name -> consent page -> POST consent -> callback ->
    code exchange. Its login page takes any name and checks no password, so a sign-in here
    costs no password hash: flows are not compared, only used to obtain tokens.
    """

    async def sign_in(
        self, conn: Connection, request: AuthorizationRequest | None = None
    ) -> dict[str, Any]:
        jar = CookieJar()
        request = request or AuthorizationRequest.new(self)

        async def send(method: str, target: str, fields: dict[str, str] | None = None) -> Response:
            headers, body = form_body(fields) if fields is not None else ([], b"")
            response = await conn.request(method, target, [*jar.header(), *headers], body)
            jar.update(response)
            return response

        response = await send("GET", request.target)
        for _ in range(4 * MAX_HOPS):  # two pages (login, consent), each behind redirects
            location = response.header("location") or ""
            if response.status in (302, 303) and location.startswith(self.redirect_uri):
                return await self.exchange_code(conn, request, response)
            if response.status in (302, 303):
                response = await send("GET", path_of(location))
                continue
            prompt, action = PROMPT_RE.search(response.body), ACTION_RE.search(response.body)
            if response.status != 200 or prompt is None or action is None:
                raise BenchError(f"interaction page: {response.status}, no form")
            fields = {"prompt": prompt.group(1).decode()}
            if fields["prompt"] == "login":
                fields.update(login=self.email, password=self.password)
            response = await send("POST", path_of(action.group(1).decode()), fields)
        raise BenchError("no redirect to the client after the login and consent pages")


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)
