"""The pages and requests the scale benchmark times, and the interleaved way it times them.

A ``Site`` is one running provider with a loaded population: signed-in browsers (cookie jars)
for the exams officer of the large centre, the officer of the Cambridge Associate with 200
associate centres and an operator, and the benchmark's relying party. An ``Operation`` is one
timed thing to do at a site (a page, a POST, a whole sign-in flow, a grant). ``interleaved``
does an operation at each site in turn, alternating which goes first, so that anything else
the machine does at the time falls on both populations alike.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import random
import re
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from bench.httpclient import Connection, CookieJar, Response, form_body, path_of
from bench.load import BenchError, RelyingParty, check_refresh_answer, percentile
from bench.population import Population
from bench.server import HOST, Gunicorn, machine_busy

CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(rb"<a\s[^>]*>", re.IGNORECASE)
HREF_RE = re.compile(rb'href="([^"]*)"')
REL_RE = re.compile(rb'rel="([^"]*)"')
PAGE_RE = re.compile(r"[?&]page=(\d+)")
MAX_PAGE = 100_000  # a page number past the end: the server answers with the last page


@dataclass
class Browser:
    """One signed-in browser: a connection and its cookies."""

    conn: Connection
    jar: CookieJar = field(default_factory=CookieJar)

    async def get(self, target: str) -> Response:
        response = await self.conn.request("GET", target, self.jar.header())
        self.jar.update(response)
        return response

    async def post(self, target: str, fields: dict[str, str]) -> Response:
        headers, body = form_body(fields)
        response = await self.conn.request("POST", target, [*self.jar.header(), *headers], body)
        self.jar.update(response)
        return response

    async def page(self, target: str) -> bytes:
        """A page that must answer 200."""
        response = await self.get(target)
        if response.status != 200:
            raise BenchError(f"GET {target}: {response.status}")
        return response.body


async def signed_in(port: int, email: str, password: str) -> Browser:
    """A browser signed in through the real sign-in page (password only: the benchmark's
    configuration asks no emailed code of a device, as on a known one)."""
    browser = Browser(Connection(HOST, port))
    csrf = CSRF_RE.search(await browser.page("/login"))
    if csrf is None:
        raise BenchError("no CSRF token on the sign-in page")
    fields = {"csrf_token": csrf.group(1).decode(), "email": email, "password": password}
    response = await browser.post("/login", fields)
    if response.status not in (302, 303) or "/login" in (response.header("location") or ""):
        raise BenchError(f"signing in as {email}: {response.status}")
    return browser


def links(body: bytes) -> dict[str, str]:
    """The links of a page by their ``rel`` (one per rel, the first)."""
    found: dict[str, str] = {}
    for tag in LINK_RE.findall(body):
        rel, href = REL_RE.search(tag), HREF_RE.search(tag)
        if rel and href:
            for name in rel.group(1).decode().split():
                found.setdefault(name, html.unescape(href.group(1).decode()))
    return found


def highest_page_link(body: bytes, base: str) -> str | None:
    """The link to the highest ``page=N`` on a page (the users list's "Last"), if any."""
    best: tuple[int, str] | None = None
    for href in HREF_RE.findall(body):
        target = html.unescape(href.decode())
        if not target.startswith(base):
            continue
        if (match := PAGE_RE.search(target)) and (best is None or int(match[1]) > best[0]):
            best = (int(match[1]), target)
    return best[1] if best else None


@dataclass
class Site:
    """One provider under test with its population."""

    name: str  # "1,000" or "2 M"
    server: Gunicorn
    population: Population
    rp: RelyingParty
    officer: Browser | None = None
    associate_officer: Browser | None = None
    operator: Browser | None = None
    database_url: str = ""  # the site's database, for the operator's console sign-in
    skipped: dict[str, str] = field(default_factory=dict)  # operation -> why it is not timed
    tokens: list[dict[str, Any]] = field(default_factory=list)
    refresh_token: str = ""
    urls: dict[str, str] = field(default_factory=dict)  # discovered by following links
    added: int = 0
    last_post_s: float = 0.0  # the time of the last add-user POST alone

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def centre(self) -> str:
        return f"/organisation/{self.population.large_centre}"

    async def prepare(self) -> None:
        """Sign the three browsers in, obtain tokens, and find the pager links (untimed)."""
        pop = self.population
        self.officer = await signed_in(self.port, pop.officer_email, pop.password)
        self.associate_officer = await signed_in(
            self.port, pop.associate_officer_email, pop.password
        )
        self.operator = await signed_in(self.port, pop.operator_email, pop.password)
        from bench.scale_console import CONSOLE_PAGES, console_probe, console_session

        if self.database_url:
            console_session(self.database_url, pop.operator_email)
        for name, console_target in CONSOLE_PAGES.items():
            reason = await console_probe(self.operator, console_target(self))
            if reason:
                self.skipped[name] = reason
        self.tokens = [await self.sign_in(Connection(HOST, self.port)) for _ in range(2)]
        self.refresh_token = self.tokens[0]["refresh_token"]
        users = f"{self.centre}/users"
        first = await self.officer.page(users)
        self.urls["users last page"] = highest_page_link(first, users) or users
        audit = f"{self.centre}/audit"
        body = await self.officer.page(audit)
        target = audit
        for _ in range(9):  # page 10: nine times "Older"
            older = links(body).get("next")
            if older is None:
                break
            target = path_of(older)
            body = await self.officer.page(target)
        self.urls["audit page 10"] = target
        last = links(body).get("last")
        self.urls["audit last page"] = path_of(last) if last else f"{audit}?page={MAX_PAGE}"

    async def sign_in(self, conn: Connection) -> dict[str, Any]:
        """A whole sign-in flow as a random active member of the large centre."""
        email = random.choice(self.population.member_emails)
        return await replace(self.rp, email=email).sign_in(conn)

    async def refresh(self, conn: Connection) -> None:
        fresh = await self.rp.token_request(
            conn, {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        )
        self.refresh_token = check_refresh_answer(fresh, self.refresh_token)

    async def userinfo(self, conn: Connection) -> None:
        token = self.tokens[1]["access_token"]
        response = await conn.request("GET", "/userinfo", [("Authorization", f"Bearer {token}")])
        if response.status != 200:
            raise BenchError(f"userinfo: {response.status}")

    async def add_user(self) -> None:
        """POST the Add user(s) form with one new person; the form is read first for its
        CSRF token, and ``last_post_s`` is the time of the POST alone."""
        assert self.officer is not None
        self.added += 1
        target = f"{self.centre}/users/add"
        csrf = CSRF_RE.search(await self.officer.page(target))
        if csrf is None:
            raise BenchError("no CSRF token on the add page")
        fields = {
            "csrf_token": csrf.group(1).decode(),
            "rows": "1",
            "given_name-0": "Added",
            "family_name-0": f"Person{self.added}",
            "email-0": f"added.{self.added}.{time.time_ns()}@bench.example",
            "roles-0": "sfa.teacher",
            "action": "save",
        }
        started = time.perf_counter()
        response = await self.officer.post(target, fields)
        self.last_post_s = time.perf_counter() - started
        if response.status != 200 or b'name="given_name-0"' in response.body:
            raise BenchError(f"add user: {response.status}, the form came back")


Op = Callable[[Site], Awaitable[float | None]]  # returns its own duration, or None: timed whole


def page(browser: str, target: Callable[[Site], str]) -> Op:
    async def op(site: Site) -> float | None:
        await getattr(site, browser).page(target(site))
        return None

    return op


def member_page(site_target: str) -> Callable[[Site], str]:
    return lambda site: f"{site.centre}{site_target}"


def operations() -> dict[str, Op]:
    """Every timed operation by the name the report gives it."""
    subs = itertools.count()

    def view_user(site: Site) -> str:
        sub_list = site.population.member_subs
        return f"{site.centre}/users/{sub_list[next(subs) % len(sub_list)]}"

    async def sign_in(site: Site) -> float | None:
        await site.sign_in(Connection(HOST, site.port))
        return None

    async def refresh(site: Site) -> float | None:
        await site.refresh(site_connection(site))
        return None

    async def userinfo(site: Site) -> float | None:
        await site.userinfo(site_connection(site))
        return None

    async def add_user(site: Site) -> float | None:
        await site.add_user()
        return site.last_post_s

    officer = "officer"
    ops: dict[str, Op] = {
        "sign-in flow": sign_in,
        "refresh_token grant": refresh,
        "userinfo": userinfo,
        "users list": page(officer, member_page("/users")),
        "users search 'smith'": page(officer, member_page("/users?q=smith")),
    }
    for sort in ("name", "email", "status", "last_sign_in"):
        ops[f"users sort {sort} desc"] = page(officer, member_page(f"/users?sort={sort}&dir=desc"))
    for status in ("active", "invited", "suspended"):
        ops[f"users status {status}"] = page(officer, member_page(f"/users?status={status}"))
    ops["users role sfa.teacher"] = page(officer, member_page("/users?role=sfa.teacher"))
    ops["users last page"] = page(officer, lambda s: s.urls["users last page"])
    ops["users 100 per page"] = page(officer, member_page("/users?per_page=100"))
    ops["view user"] = page(officer, view_user)
    ops["add user (POST)"] = add_user
    ops["users CSV download"] = page(officer, member_page("/users/download"))
    ops["audit log page 1"] = page(officer, member_page("/audit"))
    ops["audit log page 10"] = page(officer, lambda s: s.urls["audit page 10"])
    ops["audit log last page"] = page(officer, lambda s: s.urls["audit last page"])
    # The filters: one kind of event, one person (a member: their sign-ins and what was done
    # to them), a date range (the last 30 days of the two years loaded).
    ops["audit log sign-ins only"] = page(officer, member_page("/audit?action=sign_in."))
    ops["audit log one person"] = page(
        officer, lambda s: f"{s.centre}/audit?person={quote(s.population.member_emails[0])}"
    )
    ops["audit log last 30 days"] = page(
        officer,
        lambda s: (
            f"{s.centre}/audit?from={(date.today() - timedelta(days=30)).isoformat()}"
            f"&to={date.today().isoformat()}"
        ),
    )
    ops["change organisation"] = page("associate_officer", lambda s: "/change-organisation")
    ops["home (Associate officer)"] = page("associate_officer", lambda s: "/")
    from bench.scale_console import CONSOLE_PAGES

    for name, target in CONSOLE_PAGES.items():
        ops[name] = page("operator", target)
    return ops


_connections: dict[int, Connection] = {}


def site_connection(site: Site) -> Connection:
    """One kept-alive connection per site for the token and userinfo requests."""
    return _connections.setdefault(site.port, Connection(HOST, site.port))


@dataclass
class Timing:
    """Latencies of one operation at one site, with the machine's load while they ran."""

    samples_ms: list[float]
    errors: int = 0

    def q(self, percent: float) -> float:
        return percentile(sorted(self.samples_ms), percent)

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": len(self.samples_ms),
            "errors": self.errors,
            "p50_ms": round(self.q(50), 2),
            "p99_ms": round(self.q(99), 2),
            "max_ms": round(self.q(100), 2),
        }


@dataclass
class Load:
    """CPU use during a phase, in cores: the servers, this process, and everything else."""

    servers: float
    loadgen: float
    other: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in vars(self).items()}


class Clocks:
    """The CPU clocks of the servers, this process and the machine, read at a phase's ends."""

    def __init__(self, servers: list[Gunicorn]) -> None:
        self.servers = servers
        self.start = self.read()

    def read(self) -> tuple[float, float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (
            time.monotonic(),
            sum(s.cpu_seconds() for s in self.servers),
            usage.ru_utime + usage.ru_stime,
            machine_busy(),
        )

    def load(self) -> Load:
        end = self.read()
        at, servers, loadgen, busy = (b - a for a, b in zip(self.start, end, strict=True))
        window = max(at, 1e-6)
        return Load(servers / window, loadgen / window, max(0.0, busy - servers - loadgen) / window)


async def interleaved(
    sites: list[Site], op: Op, samples: int, budget_s: float, timeout: float = 30.0
) -> tuple[list[Timing], Load]:
    """Up to ``samples`` rounds (fewer if ``budget_s`` runs out, at least 20), each doing
    ``op`` once at every site, the first site alternating round by round."""
    timings = [Timing([]) for _ in sites]
    clocks = Clocks([s.server for s in sites])
    deadline = time.monotonic() + budget_s
    for round_ in range(samples):
        if round_ >= 20 and time.monotonic() > deadline:
            break
        order = list(enumerate(sites))
        if round_ % 2:
            order.reverse()
        for index, site in order:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    own = await op(site)
            except Exception:
                timings[index].errors += 1
                if timings[index].errors > 10 and not timings[index].samples_ms:
                    raise
                continue
            elapsed = own if own is not None else time.perf_counter() - started
            timings[index].samples_ms.append(elapsed * 1000)
    return timings, clocks.load()
