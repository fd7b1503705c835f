"""Does each prepared statement pay? ``python bench/statements.py [--rounds N]``.

``idp/statements.py`` runs some statements on the DBAPI cursor (``Prepared``) instead of through
the ORM session. This bench runs the requests that use them in-process (Flask's test client, no
sockets: only the worker's own work is timed) in two modes, alternating from one request to the
next so that whatever else the machine does falls on both alike:

* **prepared**: as the provider runs;
* **session**: every ``Prepared`` statement run through ``db.session.execute`` instead, as any
  other statement of the code base.

Per endpoint (method and path; the grant type for the token endpoint) it prints the median
time per request in each mode, and per statement and endpoint that runs it the calls per
request and the median time per call in each mode. A statement **pays** where its saving per
call, times its calls per request, is at least :data:`PAYS_SHARE` of what a client waits for in
session mode (a back-channel request; for the requests of a sign-in, the whole flow), and the
prepared statement was the faster in every round; otherwise it **does not pay**. On SQLite (a
scratch file) and, with ``--postgres URL``, on a scratch PostgreSQL database too.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == _REPO_ROOT / "bench":
    sys.path[0] = str(_REPO_ROOT)
elif str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, cast  # noqa: E402

from sqlalchemy import Executable  # noqa: E402

from bench.httpclient import Connection, Response  # noqa: E402
from bench.load import RelyingParty  # noqa: E402
from bench.scale import environment  # noqa: E402
from bench.scratch_db import DatabaseServer  # noqa: E402
from bench.server import (  # noqa: E402
    API_SCOPE,
    HOST,
    REDIRECT_URI,
    bench_environment,
    free_port,
    machine_busy,
    seed,
)

# A statement pays where it saves at least this share of what a client waits for: a request
# to the token or userinfo endpoint, or a person's whole sign-in flow for the requests of one
# (the password's hash is most of a flow, and the flow is what a sign-in costs the server).
PAYS_SHARE = 0.01
FLOW = frozenset(
    {"GET /authorize", "POST /login", "GET /authorize/resume", "POST /token authorization_code"}
)
RESULTS = _REPO_ROOT / "bench" / "results" / "statements.json"


MODES = ("prepared", "session")


@dataclass
class Samples:
    """Every timed request and statement call, by mode: per endpoint the seconds of each
    request, per (endpoint, statement) the seconds of each call, each with its round."""

    mode: str = "prepared"
    round: int = 0
    on: bool = False  # off during set-up and warm-up
    requests: dict[tuple[str, str], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    calls: dict[tuple[str, str, str], list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    busy: list[float] = field(default_factory=list)


class InProcess(Connection):
    """The bench's HTTP connection, answered by the app in this process (Flask's test client,
    its cookies left to the relying party's own jar): the same relying party code drives it,
    no socket or server is timed, and each request is a sample of its endpoint."""

    def __init__(self, client: Any, samples: Samples) -> None:
        super().__init__(HOST, 0)
        self.client = client
        self.samples = samples

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        started = time.perf_counter()
        answer = self.client.open(target, method=method, headers=list(headers), data=body)
        data = answer.get_data()
        elapsed = time.perf_counter() - started
        samples = self.samples
        if samples.on:
            endpoint = endpoint_of(method, target, body)
            samples.requests[(samples.mode, endpoint)].append((samples.round, elapsed))
        return Response(
            answer.status_code, [(k.lower(), v) for k, v in answer.headers.items()], data
        )


def endpoint_of(method: str, target: str, body: bytes | str = b"") -> str:
    """``METHOD /path``, and for the token endpoint the grant type (from its form)."""
    path = target.split("?", 1)[0]
    if path == "/token":
        text = body.decode() if isinstance(body, bytes) else body
        grant = re.search(r"grant_type=([a-z_]+)", text)
        return f"{method} {path} {grant[1] if grant else '?'}"
    return f"{method} {path}"


def statement_names() -> dict[int, str]:
    """Every module-level ``Prepared`` of the provider, by id, named ``module.NAME``."""
    import importlib

    from idp.statements import Prepared

    names = {}
    package = _REPO_ROOT / "idp"
    for path in sorted(package.rglob("*.py")):
        module_name = ".".join(path.relative_to(_REPO_ROOT).with_suffix("").parts)
        if module_name.startswith("idp.cli") or module_name in ("idp.wsgi", "idp.preload"):
            continue
        module = importlib.import_module(module_name.removesuffix(".__init__"))
        for name, value in vars(module).items():
            if isinstance(value, Prepared):
                names[id(value)] = f"{module.__name__.removeprefix('idp.')}.{name}"
    return names


@contextmanager
def instrumented(samples: Samples) -> Iterator[None]:
    """``Prepared.first/all/execute`` timed per statement and endpoint, and in ``session``
    mode run through ``db.session.execute`` (as the ORM session runs any other statement)."""
    from flask import request

    from idp.extensions import db
    from idp.statements import Prepared

    names = statement_names()
    saved = {m: getattr(Prepared, m) for m in ("first", "all", "execute")}

    def patched(kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Prepared, **params: Any) -> Any:
            started = time.perf_counter()
            try:
                if samples.mode == "prepared":
                    return original(self, **params)
                result = db.session.execute(cast(Executable, self.statement), params)
                if kind == "first":
                    return result.first()
                if kind == "all":
                    return result.all()
                return result.rowcount  # type: ignore[attr-defined]
            finally:
                elapsed = time.perf_counter() - started
                if samples.on:
                    grant = request.form.get("grant_type", "") if request.path == "/token" else ""
                    endpoint = endpoint_of(request.method, request.path, f"grant_type={grant}")
                    key = (samples.mode, endpoint, names.get(id(self), "?"))
                    samples.calls[key].append((samples.round, elapsed))

        return run

    for kind, original in saved.items():
        setattr(Prepared, kind, patched(kind, original))
    try:
        yield
    finally:
        for kind, original in saved.items():
            setattr(Prepared, kind, original)


REQUESTS = 200  # of each grant and of userinfo, a round
FLOWS = 20  # sign-in flows a round (each hashes a password: ~50 ms)


def measure(app: Any, rp: RelyingParty, rounds: int) -> Samples:
    """``rounds`` rounds of refresh grants, client_credentials grants, userinfo and sign-in
    flows, the mode alternating from one request (one flow) to the next, so that whatever
    else the machine does falls on both modes alike."""
    samples = Samples()
    conn = InProcess(app.test_client(use_cookies=False), samples)
    first = asyncio.run(rp.sign_in(conn))
    chain = {"token": asyncio.run(rp.sign_in(conn))["refresh_token"]}
    access = first["access_token"]

    async def refresh() -> None:
        fresh = await rp.token_request(
            conn, {"grant_type": "refresh_token", "refresh_token": chain["token"]}
        )
        chain["token"] = fresh["refresh_token"]

    async def credentials() -> None:
        await rp.token_request(conn, {"grant_type": "client_credentials", "scope": API_SCOPE})

    async def userinfo() -> None:
        answer = await conn.request("GET", "/userinfo", [("Authorization", f"Bearer {access}")])
        if answer.status != 200:
            raise RuntimeError(f"userinfo: {answer.status}")

    async def flow() -> None:
        await rp.sign_in(conn)

    async def round_(number: int) -> None:
        for operation, count in (
            (refresh, REQUESTS),
            (credentials, REQUESTS),
            (userinfo, REQUESTS),
            (flow, FLOWS),
        ):
            for i in range(count):
                samples.mode = MODES[(i + number) % 2]
                await operation()

    with instrumented(samples):
        asyncio.run(round_(0))  # warm: plans compiled and caches filled in both modes
        samples.on = True
        for number in range(rounds):
            samples.round = number
            busy_before, own_before = machine_busy(), time.process_time()
            started = time.monotonic()
            asyncio.run(round_(number))
            wall = time.monotonic() - started
            others = (machine_busy() - busy_before) - (time.process_time() - own_before)
            samples.busy.append(max(0.0, others / wall))
    return samples


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def median_by_round(values: list[tuple[int, float]], rounds: int) -> list[float]:
    return [statistics.median(v for r, v in values if r == n) for n in range(rounds)]


def report(label: str, samples: Samples, rounds: int) -> dict[str, Any]:
    """Print and return, per endpoint and per statement, the figures of one database."""
    print(f"\n== {label}: other programs took {max(samples.busy):.2f} cores at most")
    print(f"\n{'endpoint':<34} {'prepared µs':>12} {'session µs':>12} {'saved':>7}")
    endpoints: dict[str, Any] = {}
    per_request: dict[str, float] = {}
    for endpoint in sorted({e for m, e in samples.requests if m == "session"}):
        p = statistics.median(v for _, v in samples.requests[("prepared", endpoint)])
        s = statistics.median(v for _, v in samples.requests[("session", endpoint)])
        per_request[endpoint] = s
        endpoints[endpoint] = {"prepared_us": round(p * 1e6, 1), "session_us": round(s * 1e6, 1)}
        print(f"{endpoint:<34} {us(p):>12} {us(s):>12} {(s - p) / s:>7.1%}")
    flow = sum(per_request.get(e, 0.0) for e in FLOW)
    print(f"{'sign-in flow (the four above)':<34} {'':>12} {us(flow):>12}")
    print(
        f"\n{'statement':<34} {'endpoint':<34} {'calls':>5} {'prep µs':>8} {'sess µs':>8}"
        f" {'saved':>6} {'share':>6} {'rounds':>6}  verdict"
    )
    statements: dict[str, Any] = {}
    keys = sorted({(e, n) for m, e, n in samples.calls}, key=lambda k: (k[1], k[0]))
    for endpoint, name in keys:
        prepared = samples.calls[("prepared", endpoint, name)]
        session = samples.calls[("session", endpoint, name)]
        requests = len(samples.requests[("prepared", endpoint)])
        if not prepared or not session or not requests:
            continue
        calls = len(prepared) / requests
        p_rounds = median_by_round(prepared, rounds)
        s_rounds = median_by_round(session, rounds)
        p_call = statistics.median(v for _, v in prepared)
        s_call = statistics.median(v for _, v in session)
        saved = (s_call - p_call) * calls
        # What a client waits for: a back-channel request, or a person's whole sign-in.
        whole = flow if endpoint in FLOW else per_request[endpoint]
        share = saved / whole
        # Rounds in which the prepared statement was the faster: all of them, or it is noise.
        won = sum(p < s for p, s in zip(p_rounds, s_rounds, strict=True))
        pays = share >= PAYS_SHARE and won == rounds
        row = {
            "endpoint": endpoint,
            "calls_per_request": round(calls, 2),
            "prepared_us": round(p_call * 1e6, 1),
            "session_us": round(s_call * 1e6, 1),
            "saved_per_request_us": round(saved * 1e6, 1),
            "share": round(share, 4),
            "share_of": "sign-in flow" if endpoint in FLOW else endpoint,
            "rounds_faster": won,
            "pays": pays,
        }
        print(
            f"{name:<34} {endpoint:<34} {calls:>5.2f} {row['prepared_us']:>8.1f}"
            f" {row['session_us']:>8.1f} {row['saved_per_request_us']:>6.0f} {share:>6.1%}"
            f" {won:>3}/{rounds:<2}  {'PAYS' if pays else 'does not pay'}"
        )
        best = statements.get(name)
        if best is None or (row["pays"], row["share"]) > (best["pays"], best["share"]):
            statements[name] = row
    paying = sorted(n for n, r in statements.items() if r["pays"])
    print(f"\npays somewhere: {', '.join(paying) or 'none'}")
    return {"endpoints": endpoints, "statements": statements, "busy_cores": samples.busy}


def run_on(url: str | None, label: str, rounds: int, stack: ExitStack) -> dict[str, Any]:
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="idp-statements-")))
    port = free_port()
    env = bench_environment(tmp, port, url)
    creds = seed(env, tmp)
    with environment(env):
        from idp import create_app

        app = create_app()
    rp = RelyingParty(
        HOST, port, creds.client_id, creds.client_secret, REDIRECT_URI, creds.email, creds.password
    )
    return report(label, measure(app, rp, rounds), rounds)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=6, help="rounds (6)")
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL on this machine: also measure there"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        results["SQLite"] = run_on(None, "SQLite", args.rounds, stack)
        if args.postgres:
            server = stack.enter_context(DatabaseServer(args.postgres))
            scratch = stack.enter_context(server.scratch(f"bench_statements_{free_port()}"))
            results["PostgreSQL"] = run_on(scratch.url, "PostgreSQL", args.rounds, stack)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
