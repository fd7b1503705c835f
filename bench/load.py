"""Closed-loop load phases and the relying-party operations they repeat.

A phase runs ``concurrency`` slots; each slot sends one operation (a request, or a whole
sign-in flow) at a time and starts the next as soon as the previous one finishes. After a
warm-up, a measurement window of fixed length is timed: only operations that *finish* inside it
are counted, and the CPU clocks are read at its two ends, so in-flight work at either edge
neither inflates nor deflates the rate in steady state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.httpclient import Connection, CookieJar, Response, basic_auth, form_body, path_of
from bench.server import Snapshot

CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')
IX_RE = re.compile(rb'name="ix" value="([^"]+)"')


class BenchError(Exception):
    """A response was wrong: counted as an error of the phase."""


class SlotDone(Exception):
    """The slot has nothing more to send (a refresh chain broke and no spare token was left)."""


Operation = Callable[[int], Awaitable[None]]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 < q <= 100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil without floats
    return sorted_values[int(rank) - 1]


@dataclass
class PhaseResult:
    name: str
    unit: str  # what one operation is: "req" or "flow"
    concurrency: int
    window_s: float
    completed: int
    errors: int  # over the whole phase, warm-up included
    error_kinds: dict[str, int]
    latencies_s: list[float] = field(repr=False)
    server_cpu_s: float
    loadgen_cpu_s: float
    machine_busy_s: float
    worker_restarts: int
    cpu_probe_ms: float = float("nan")  # floors.cpu_probe() just before the phase
    # Percentiles reported by a load generator that keeps no per-request list (wrk).
    latency_quantiles_ms: dict[int, float] | None = None
    # The database server's processes serving this server (0 for SQLite, in the server).
    database_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.completed / self.window_s if self.window_s else 0.0

    def latency_ms(self, q: float) -> float:
        if self.latency_quantiles_ms is not None:
            return self.latency_quantiles_ms[int(q)]
        return percentile(self.latencies_s, q) * 1000

    @property
    def server_cpu_ms_per_op(self) -> float:
        return self.server_cpu_s * 1000 / self.completed if self.completed else float("nan")

    @property
    def database_cpu_ms_per_op(self) -> float:
        return self.database_cpu_s * 1000 / self.completed if self.completed else float("nan")

    @property
    def loadgen_cpu_ms_per_op(self) -> float:
        return self.loadgen_cpu_s * 1000 / self.completed if self.completed else float("nan")

    @property
    def loadgen_cores(self) -> float:
        """The load generator's CPU use in cores (1.0 = one core busy all window)."""
        return self.loadgen_cpu_s / self.window_s if self.window_s else 0.0

    @property
    def server_cores(self) -> float:
        return self.server_cpu_s / self.window_s if self.window_s else 0.0

    @property
    def other_cores(self) -> float:
        """CPU busy outside the server, its database server's processes serving it and the
        load generator: kernel work not charged to a process (softirq), and any other program
        on the machine. High values mean the figures are disturbed."""
        if not self.window_s:
            return 0.0
        other = self.machine_busy_s - self.server_cpu_s - self.database_cpu_s - self.loadgen_cpu_s
        return max(0.0, other / self.window_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "concurrency": self.concurrency,
            "window_s": round(self.window_s, 3),
            "completed": self.completed,
            "rate_per_s": round(self.rate, 1),
            "latency_ms": {
                "p50": round(self.latency_ms(50), 2),
                "p90": round(self.latency_ms(90), 2),
                "p99": round(self.latency_ms(99), 2),
                "max": round(self.latency_ms(100), 2),
            },
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "server_cpu_ms_per_op": round(self.server_cpu_ms_per_op, 3),
            "server_cores": round(self.server_cores, 3),
            "database_cpu_ms_per_op": round(self.database_cpu_ms_per_op, 3),
            "loadgen_cpu_ms_per_op": round(self.loadgen_cpu_ms_per_op, 3),
            "loadgen_cores": round(self.loadgen_cores, 3),
            "other_cores": round(self.other_cores, 3),
            "worker_restarts": self.worker_restarts,
            "cpu_probe_ms": round(self.cpu_probe_ms, 3),
        }


async def run_phase(
    name: str,
    unit: str,
    concurrency: int,
    operation: Operation,
    *,
    warmup: float,
    duration: float,
    timeout: float,
    snapshot: Callable[[], Snapshot],
) -> PhaseResult:
    loop = asyncio.get_running_loop()
    t0 = loop.time() + warmup
    t1 = t0 + duration
    snaps: list[Snapshot] = []
    # Read the clocks from inside the event loop at the window's edges (a few hundred µs).
    loop.call_at(t0, lambda: snaps.append(snapshot()))
    loop.call_at(t1, lambda: snaps.append(snapshot()))
    finished: list[tuple[float, float]] = []  # (finish time, latency)
    errors: Counter[str] = Counter()

    async def slot(index: int) -> None:
        while (began := loop.time()) < t1:
            try:
                async with asyncio.timeout(timeout):
                    await operation(index)
            except SlotDone:
                return
            except Exception as exc:  # every failure is a counted error, never a crash
                errors[_describe(exc)] += 1
                await asyncio.sleep(0.005)  # no hot loop against a refusing server
                continue
            done = loop.time()
            finished.append((done, done - began))

    await asyncio.gather(*(slot(i) for i in range(concurrency)))
    if len(snaps) < 2:  # every slot gave up before the window ended
        await asyncio.sleep(max(0.0, t1 - loop.time()) + 0.05)
    if len(snaps) < 2:
        raise RuntimeError(f"{name}: the CPU clocks could not be read")
    start, end = snaps
    # The snapshots say when the clocks were really read (loop.time() is time.monotonic()).
    latencies = sorted(lat for done, lat in finished if start.at <= done < end.at)
    return PhaseResult(
        name=name,
        unit=unit,
        concurrency=concurrency,
        window_s=end.at - start.at,
        completed=len(latencies),
        errors=sum(errors.values()),
        error_kinds=dict(errors.most_common(5)),
        latencies_s=latencies,
        server_cpu_s=end.server_cpu - start.server_cpu,
        loadgen_cpu_s=end.loadgen_cpu - start.loadgen_cpu,
        machine_busy_s=end.machine_busy - start.machine_busy,
        worker_restarts=len(set(end.worker_pids) - set(start.worker_pids)),
        database_cpu_s=end.database_cpu - start.database_cpu,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- operations -----------------------------------------------------------------------


class StaticGet:
    """GET a URL whose body never changes; each answer must equal the first one byte for byte."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        concurrency: int,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.path = path
        self.headers = headers or []
        self.connections = [Connection(host, port) for _ in range(concurrency)]
        self.expected: bytes | None = None

    async def prime(self, check: Callable[[Any], bool]) -> None:
        """Fetch the reference body once and check its content (parsed as JSON)."""
        response = await self.connections[0].request("GET", self.path, self.headers)
        if response.status != 200 or not check(json.loads(response.body)):
            raise BenchError(f"GET {self.path}: {response.status} {response.body[:200]!r}")
        self.expected = response.body

    async def __call__(self, slot: int) -> None:
        response = await self.connections[slot].request("GET", self.path, self.headers)
        if response.status != 200:
            raise BenchError(f"status {response.status}")
        if response.body != self.expected:
            raise BenchError("unexpected body")


@dataclass
class RelyingParty:
    """The benchmark's confidential client, driving the provider like a browser plus backend."""

    host: str
    port: int
    client_id: str
    client_secret: str
    redirect_uri: str
    email: str
    password: str
    scope: str = "openid profile email roles"
    authorize_path: str = "/authorize"
    token_path: str = "/token"

    def __post_init__(self) -> None:
        self.auth_header = basic_auth(self.client_id, self.client_secret)

    async def token_request(self, conn: Connection, fields: dict[str, str]) -> dict[str, Any]:
        headers, body = form_body(fields)
        response = await conn.request("POST", self.token_path, [self.auth_header, *headers], body)
        if response.status != 200:
            grant = fields["grant_type"]
            raise BenchError(f"token {grant}: {response.status} {_error_of(response)}")
        tokens: dict[str, Any] = json.loads(response.body)
        return tokens

    async def sign_in(
        self, conn: Connection, request: AuthorizationRequest | None = None
    ) -> dict[str, Any]:
        """One full authorization-code flow in a fresh browser, ending with the code exchange.

        authorize (the sign-in page) -> POST login (the password hash) -> callback -> token,
        following any redirects within the provider the way a browser would.
        """
        jar = CookieJar()
        request = request or AuthorizationRequest.new(self)

        async def get(target: str) -> Response:
            response = await conn.request("GET", target, jar.header())
            jar.update(response)
            return response

        page = await get(request.target)  # the sign-in page, or redirects to it
        for _ in range(MAX_HOPS):
            if page.status not in (302, 303):
                break
            page = await get(path_of(page.header("location") or "/"))
        csrf, ix = CSRF_RE.search(page.body), IX_RE.search(page.body)
        if page.status != 200 or csrf is None or ix is None:
            raise BenchError(f"login page: {page.status}, csrf/ix missing")
        headers, body = form_body(
            {
                "email": self.email,
                "password": self.password,
                "csrf_token": csrf.group(1).decode(),
                "ix": ix.group(1).decode(),
            }
        )
        response = await conn.request("POST", "/login", [*jar.header(), *headers], body)
        jar.update(response)
        for _ in range(MAX_HOPS):
            location = response.header("location") or ""
            if response.status not in (302, 303) or location.startswith(self.redirect_uri):
                break
            response = await get(path_of(location))
        return await self.exchange_code(conn, request, response)

    async def exchange_code(
        self, conn: Connection, request: AuthorizationRequest, response: Response
    ) -> dict[str, Any]:
        """Check the redirect to the client's callback, then exchange its code for tokens."""
        callback = _redirect(response, self.redirect_uri)
        params = parse_qs(urlsplit(callback).query)
        if params.get("state") != [request.state] or "code" not in params:
            raise BenchError(f"bad callback {callback[:120]}")
        tokens = await self.token_request(
            conn,
            {
                "grant_type": "authorization_code",
                "code": params["code"][0],
                "redirect_uri": self.redirect_uri,
                "code_verifier": request.verifier,
            },
        )
        if not all(k in tokens for k in ("access_token", "id_token", "refresh_token")):
            raise BenchError(f"code exchange returned {sorted(tokens)}")
        return tokens


@dataclass(frozen=True)
class AuthorizationRequest:
    """One authorization-code request with PKCE (S256), a state and a nonce."""

    target: str  # the request target of the authorization endpoint, query included
    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls, rp: RelyingParty) -> AuthorizationRequest:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=")
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": rp.client_id,
                "redirect_uri": rp.redirect_uri,
                "scope": rp.scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge.decode(),
                "code_challenge_method": "S256",
            }
        )
        return cls(f"{rp.authorize_path}?{query}", state, nonce, verifier)


def _redirect(response: Response, expected_prefix: str) -> str:
    """The Location of a redirect that must lead to ``expected_prefix``; the request target for
    the provider's own pages, the whole URL for the client's redirect URI."""
    location = response.header("location")
    if response.status not in (302, 303) or location is None:
        raise BenchError(f"expected a redirect to {expected_prefix}, got {response.status}")
    if expected_prefix.startswith("http"):
        if not location.startswith(expected_prefix):
            raise BenchError(f"redirected to {location[:120]}")
        return location
    target = path_of(location)
    if not target.startswith(expected_prefix):
        raise BenchError(f"redirected to {location[:120]} instead of {expected_prefix}")
    return target


def _error_of(response: Response) -> str:
    try:
        return str(json.loads(response.body).get("error"))
    except ValueError:
        return repr(response.body[:80])


MAX_HOPS = 5  # redirects followed inside the provider after signing in


class Flows:
    """Full sign-in flows, each in a fresh browser (a new cookie jar)."""

    def __init__(self, rp: RelyingParty, concurrency: int) -> None:
        self.rp = rp
        self.connections = [Connection(rp.host, rp.port) for _ in range(concurrency)]

    async def __call__(self, slot: int) -> None:
        await self.rp.sign_in(self.connections[slot])


class Userinfo(StaticGet):
    """GET /userinfo with one access token per slot; every answer must equal the first."""

    def __init__(self, rp: RelyingParty, access_tokens: list[str], path: str = "/userinfo") -> None:
        super().__init__(rp.host, rp.port, path, len(access_tokens))
        self.slot_headers = [[("Authorization", f"Bearer {t}")] for t in access_tokens]
        self.headers = self.slot_headers[0]

    async def __call__(self, slot: int) -> None:
        response = await self.connections[slot].request("GET", self.path, self.slot_headers[slot])
        if response.status != 200:
            raise BenchError(f"status {response.status}")
        if response.body != self.expected:
            raise BenchError("unexpected body")


class RefreshChains:
    """One rotating refresh-token chain per slot.

    Refresh tokens rotate, and presenting a rotated one revokes its whole family, so a slot only
    ever sends the token from its own previous answer. A chain that breaks (an error or a
    timeout after which we cannot know whether the server rotated) is abandoned; the slot
    continues with a spare chain if there is one, and stops otherwise.
    """

    def __init__(self, rp: RelyingParty, refresh_tokens: list[str], concurrency: int) -> None:
        self.rp = rp
        self.current: list[str | None] = list(refresh_tokens[:concurrency])
        self.spares = list(refresh_tokens[concurrency:])
        self.connections = [Connection(rp.host, rp.port) for _ in range(concurrency)]
        self.broken = 0

    async def __call__(self, slot: int) -> None:
        token = self.current[slot]
        if token is None:
            if not self.spares:
                raise SlotDone
            token = self.current[slot] = self.spares.pop()
        self.current[slot] = None  # until the answer proves the chain is intact
        try:
            fresh = await self.rp.token_request(
                self.connections[slot], {"grant_type": "refresh_token", "refresh_token": token}
            )
        except BaseException:
            self.broken += 1
            raise
        try:
            self.current[slot] = check_refresh_answer(fresh, token)
        except BenchError:
            self.broken += 1
            raise


def check_refresh_answer(fresh: dict[str, Any], presented: str) -> str:
    """The new refresh token of a rotation answer, which must also carry an access token and
    an ID token."""
    new = fresh.get("refresh_token")
    if not isinstance(new, str) or not new or new == presented:
        raise BenchError("refresh answer without a new refresh token")
    if "access_token" not in fresh or "id_token" not in fresh:
        raise BenchError(f"refresh answer carries {sorted(fresh)}")
    return new


def check_client_token(fresh: dict[str, Any]) -> None:
    """A client_credentials answer: a bearer access token and nothing for a user (RFC 6749
    4.4.3: no refresh token; no ID token without a user)."""
    if not fresh.get("access_token") or str(fresh.get("token_type", "")).lower() != "bearer":
        raise BenchError(f"client_credentials answer carries {sorted(fresh)}")
    if "refresh_token" in fresh or "id_token" in fresh:
        raise BenchError(f"client_credentials answer carries {sorted(fresh)}")


class ClientCredentials:
    """POST /token ``grant_type=client_credentials``: a new access token for the client itself
    on every request."""

    def __init__(self, rp: RelyingParty, fields: dict[str, str], concurrency: int) -> None:
        self.rp = rp
        self.fields = {"grant_type": "client_credentials", **fields}
        self.connections = [Connection(rp.host, rp.port) for _ in range(concurrency)]

    async def prime(self) -> dict[str, Any]:
        """One request, checked; returns the answer."""
        fresh = await self.rp.token_request(self.connections[0], self.fields)
        check_client_token(fresh)
        return fresh

    async def __call__(self, slot: int) -> None:
        check_client_token(await self.rp.token_request(self.connections[slot], self.fields))


async def obtain_tokens(
    rp: RelyingParty, count: int, concurrency: int, timeout: float
) -> list[dict[str, Any]]:
    """Sign in ``count`` times (untimed set-up), ``concurrency`` flows at a time."""
    results: list[dict[str, Any]] = []
    todo = iter(range(count))

    async def worker() -> None:
        conn = Connection(rp.host, rp.port)
        for _ in todo:
            async with asyncio.timeout(timeout):
                results.append(await rp.sign_in(conn))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results
