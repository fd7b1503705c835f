"""Benchmark the identity provider under gunicorn: ``python bench/run.py [--quick]``.

Starts gunicorn (2 workers) on a fresh SQLite database, loads discovery, JWKS, userinfo,
refresh-token rotation and full sign-in flows from a single-process asyncio load generator,
measures the cost floors (one password hash, one RS256 signature, an empty Flask endpoint and a
bare-WSGI refresh grant on the same gunicorn setup), prints a table and writes
bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/run.py` puts bench/ first on sys.path; import the `bench` package from the
# repository root instead (and never let a bench module shadow a standard-library one).
_REPO_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == _REPO_ROOT / "bench":
    sys.path[0] = str(_REPO_ROOT)
elif str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

from bench import bare_refresh, floors, wrk  # noqa: E402
from bench.httpclient import basic_auth  # noqa: E402
from bench.load import (  # noqa: E402
    Flows,
    PhaseResult,
    RefreshChains,
    RelyingParty,
    StaticGet,
    Userinfo,
    obtain_tokens,
    run_phase,
)
from bench.server import (  # noqa: E402
    HOST,
    REDIRECT_URI,
    REPO_ROOT,
    WORKERS,
    Gunicorn,
    Measured,
    Seed,
    ServerError,
    bench_environment,
    free_port,
    machine_busy,
    seed,
)
from bench.wrk import WrkPhase  # noqa: E402
from idp.config import Settings  # noqa: E402
from idp.config import load as load_settings  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "latest.json"
CORES = 2  # the hash floor assumes one password check per flow on each of two cores

# Targets from the performance brief.
REFRESH_TARGET_RPS = 1000.0
REFRESH_TARGET_P99_MS = 50.0
FLOW_TARGET_RATIO = 0.8
FLOW_CPU_TARGET_MS = 10.0  # server CPU per flow, the password hash excluded
IDLE_WARNING_CORES = 0.25


@dataclass
class Options:
    duration: float
    warmup: float
    concurrency: int
    flow_concurrency: int
    timeout: float
    hash_runs: int
    sign_runs: int
    output: Path
    only: frozenset[str] | None = None  # phase names; None runs every phase
    use_wrk: bool = False  # request phases driven by wrk instead of the asyncio generator
    database_url: str | None = None  # default: a fresh SQLite file

    def wants(self, phase: str) -> bool:
        return self.only is None or phase in self.only


@dataclass
class Results:
    options: Options
    floors: dict[str, floors.Timing] = field(default_factory=dict)
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    idle_busy_cores: float | None = None  # CPU busy on the machine just before the run
    parallelism: int = 1  # threads one password hash may use (auth.argon2_parallelism)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per load phase (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="unmeasured seconds before each window (default 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s per phase, 0.5 s warm-up"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="connections for the request phases (default 32)",
    )
    parser.add_argument(
        "--flow-concurrency", type=int, default=8, help="concurrent sign-in flows (default 8)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds before one request or flow counts as an error (default 30)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help=f"JSON results file (default {RESULTS.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator for the request phases: wrk when installed (auto), or asyncio",
    )
    parser.add_argument(
        "--only",
        help="comma-separated phases to run: " + ", ".join(PHASES) + " (default: all)",
    )
    parser.add_argument(
        "--database-url",
        help="an empty database to run against, e.g. postgresql://postgres@127.0.0.1/bench "
        "(default: a fresh SQLite file)",
    )
    args = parser.parse_args(argv)
    only = frozenset(p.strip() for p in args.only.split(",")) if args.only else None
    if args.loadgen == "wrk" and not wrk.available():
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    if only is not None and not only <= set(PHASES):
        parser.error(f"unknown phase in --only; choose from {', '.join(PHASES)}")
    if args.quick:
        args.duration, args.warmup = 2.0, 0.5
    if args.duration <= 0 or args.warmup < 0 or args.concurrency < 1 or args.flow_concurrency < 1:
        parser.error("durations must be positive and concurrencies at least 1")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        flow_concurrency=args.flow_concurrency,
        timeout=args.timeout,
        hash_runs=10 if args.quick else 20,
        sign_runs=200 if args.quick else 500,
        output=args.output,
        only=only,
        database_url=args.database_url,
        use_wrk=args.loadgen == "wrk" or (args.loadgen == "auto" and wrk.available()),
    )


# -- phases ---------------------------------------------------------------------------

PHASES = (
    "empty endpoint",
    "discovery",
    "jwks",
    "userinfo",
    "bare refresh",
    "refresh",
    "sign-in flow",
)


async def all_phases(
    opts: Options,
    empty: Gunicorn,
    bare: Gunicorn,
    bare_tokens: list[str],
    server: Gunicorn,
    creds: Seed,
    settings: Settings,
    results: Results,
) -> None:
    """Every phase, in an order that keeps each figure next to its floor in time."""
    issuer = f"http://{HOST}:{server.port}"
    rp = RelyingParty(
        HOST,
        server.port,
        creds.client_id,
        creds.client_secret,
        REDIRECT_URI,
        creds.email,
        creds.password,
    )

    # Set-up (untimed): one sign-in per refresh chain, plus spares for chains that break
    # (asyncio) or a second set for wrk's warm-up (a chain is used up once it has run).
    extra = opts.concurrency if opts.use_wrk else max(4, opts.concurrency // 4)
    log(f"signing in {opts.concurrency + extra} times for tokens (untimed set-up)")
    tokens = await obtain_tokens(rp, opts.concurrency + extra, opts.flow_concurrency, opts.timeout)
    log(f"load generator for request phases: {'wrk' if opts.use_wrk else 'asyncio'}")
    base = f"http://{HOST}:{server.port}"

    if opts.wants("empty endpoint") or opts.wants("discovery") or opts.wants("jwks"):
        nothing = StaticGet(HOST, empty.port, "/", opts.concurrency)
        await nothing.prime(lambda doc: doc == {})
        await measure(
            opts,
            results,
            empty,
            "empty endpoint",
            "req",
            opts.concurrency,
            nothing,
            (f"http://{HOST}:{empty.port}", WrkPhase("/")),
        )

    if opts.wants("discovery"):
        discovery = StaticGet(
            HOST, server.port, "/.well-known/openid-configuration", opts.concurrency
        )
        await discovery.prime(lambda doc: doc.get("issuer") == issuer)
        await measure(
            opts,
            results,
            server,
            "discovery",
            "req",
            opts.concurrency,
            discovery,
            (base, WrkPhase("/.well-known/openid-configuration")),
        )

    if opts.wants("jwks"):
        jwks = StaticGet(HOST, server.port, "/jwks.json", opts.concurrency)
        await jwks.prime(lambda doc: any(k.get("kid") == creds.kid for k in doc.get("keys", [])))
        await measure(
            opts,
            results,
            server,
            "jwks",
            "req",
            opts.concurrency,
            jwks,
            (base, WrkPhase("/jwks.json")),
        )

    # Userinfo before refresh: a rotation may end the access tokens of the previous generation.
    if opts.wants("userinfo"):
        access = [t["access_token"] for t in tokens[: opts.concurrency]]
        userinfo = Userinfo(rp, access)
        await userinfo.prime(lambda doc: doc.get("email") == creds.email and "sub" in doc)
        await measure(
            opts,
            results,
            server,
            "userinfo",
            "req",
            opts.concurrency,
            userinfo,
            (base, WrkPhase("/userinfo", "bearer", tuple(access))),
        )

    # The bare-WSGI refresh grant right before the provider's: the floor beside its figure.
    if opts.wants("bare refresh"):
        bare_rp = RelyingParty(
            HOST,
            bare.port,
            bare_refresh.CLIENT_ID,
            bare_refresh.CLIENT_SECRET,
            REDIRECT_URI,
            creds.email,
            creds.password,
        )
        await measure_refresh(opts, results, bare, bare_rp, "bare refresh", bare_tokens)

    if opts.wants("refresh"):
        refresh = [t["refresh_token"] for t in tokens]
        await measure_refresh(opts, results, server, rp, "refresh", refresh)

    if not opts.wants("sign-in flow"):
        return
    # The floors run here, in this process, while both servers are idle (nothing else is
    # scheduled on the event loop): just before the flows they are compared with.
    log("cost floors: argon2id verify, RS256 signature")
    results.parallelism = settings.auth.argon2_parallelism
    results.floors["password_hash"] = floors.password_verify(settings.auth, opts.hash_runs)
    results.floors["password_hash_2_at_once"] = floors.password_verify_concurrent(
        settings.auth, CORES, opts.hash_runs
    )
    results.floors["id_token_signature"] = floors.id_token_signature(
        settings.keys_path / f"{creds.kid}.pem", creds.kid, settings.oidc.issuer, opts.sign_runs
    )
    # What a client choosing ES256 (`idp clients id-token-alg --alg ES256`) costs instead.
    results.floors["id_token_signature_es256"] = floors.id_token_signature(
        None, creds.kid, settings.oidc.issuer, opts.sign_runs, alg="ES256"
    )

    flows = Flows(rp, opts.flow_concurrency)
    await measure(opts, results, server, "sign-in flow", "flow", opts.flow_concurrency, flows)


async def measure_refresh(
    opts: Options,
    results: Results,
    server: Measured,
    rp: RelyingParty,
    name: str,
    refresh: list[str],
) -> None:
    """A refresh-token phase: one rotating chain per connection (and, with wrk, a second set
    of chains for the warm-up; with the asyncio generator, spares for chains that break)."""
    if opts.use_wrk:
        auth = basic_auth(rp.client_id, rp.client_secret)[1]
        base = f"http://{HOST}:{rp.port}"
        warm = WrkPhase("/token", "refresh", tuple(refresh[opts.concurrency :]), auth)
        measured = WrkPhase("/token", "refresh", tuple(refresh[: opts.concurrency]), auth)
        await measure_wrk(opts, results, server, name, base, measured, warm)
        return
    chains = RefreshChains(rp, refresh, opts.concurrency)
    await measure(opts, results, server, name, "req", opts.concurrency, chains)
    if chains.broken:
        log(f"{name}: {chains.broken} chain(s) broke; spares left: {len(chains.spares)}")


async def measure(
    opts: Options,
    results: Results,
    server: Measured,
    name: str,
    unit: str,
    concurrency: int,
    operation: Any,
    with_wrk: tuple[str, WrkPhase] | None = None,
) -> None:
    if opts.use_wrk and with_wrk is not None:
        await measure_wrk(opts, results, server, name, *with_wrk)
        return
    probe = floors.cpu_probe()
    log(
        f"{name}: {concurrency} concurrent, {opts.warmup:g} s warm-up + {opts.duration:g} s "
        f"(cpu probe {probe:.1f} ms)"
    )
    result = await run_phase(
        name,
        unit,
        concurrency,
        operation,
        warmup=opts.warmup,
        duration=opts.duration,
        timeout=opts.timeout,
        snapshot=server.snapshot,
    )
    record(results, result, probe, unit)


async def measure_wrk(
    opts: Options,
    results: Results,
    server: Measured,
    name: str,
    base: str,
    phase: WrkPhase,
    warm: WrkPhase | None = None,
) -> None:
    probe = floors.cpu_probe()
    log(
        f"{name}: wrk, {opts.concurrency} connections, {opts.warmup:g} s warm-up + "
        f"{opts.duration:g} s (cpu probe {probe:.1f} ms)"
    )
    timing = {"warmup": opts.warmup, "duration": opts.duration, "timeout": opts.timeout}
    result = await asyncio.to_thread(
        wrk.run_phase,
        name,
        base,
        phase,
        opts.concurrency,
        snapshot=server.snapshot,
        warmup_phase=warm,
        **timing,
    )
    record(results, result, probe, "req")


def record(results: Results, result: Any, probe: float, unit: str) -> None:
    result.cpu_probe_ms = probe
    results.phases[result.name] = result
    log(
        f"{result.name}: {result.rate:.1f} {unit}/s, p99 {result.latency_ms(99):.1f} ms, "
        f"{result.errors} errors"
    )


def check_idle(results: Results, seconds: float = 1.0) -> None:
    """Warn when other programs keep the machine busy: they would take cores from the run."""
    before = machine_busy()
    time.sleep(seconds)
    results.idle_busy_cores = (machine_busy() - before) / seconds
    if results.idle_busy_cores > IDLE_WARNING_CORES:
        log(
            f"warning: the machine is not idle ({results.idle_busy_cores:.2f} cores busy before "
            "the run); figures will be low and noisy (see the 'other cores' column)"
        )


def run(opts: Options, tmp: Path, results: Results) -> None:
    check_idle(results)
    port = free_port()
    env = bench_environment(tmp, port, opts.database_url)
    log(f"seeding {tmp} with the idp CLI")
    creds = seed(env, tmp)
    settings = load_settings(environ=env)  # what the server will run with

    # The bare refresh grant gets a database of its own (SQLite, whatever the provider runs
    # on), one chain per connection and a second set for wrk's warm-up or as spares.
    bare_tokens = bare_refresh.seed(tmp / "bare-refresh.sqlite3", 2 * opts.concurrency)
    bare_env = {
        **env,
        "BENCH_BARE_DB": str(tmp / "bare-refresh.sqlite3"),
        "BENCH_BARE_KEY": str(settings.keys_path / f"{creds.kid}.pem"),
    }

    # The servers stay up for the whole run (an idle worker costs nothing), so each floor
    # can be measured right before the figures it is compared with.
    log(f"starting gunicorn: the provider on {HOST}:{port}, the empty app and the bare refresh")
    with (
        Gunicorn("idp.wsgi:app", port, env, tmp, tmp / "gunicorn-idp.log") as server,
        Gunicorn("bench.empty_app:app", free_port(), env, tmp, tmp / "gunicorn-empty.log") as empty,
        Gunicorn(
            "bench.bare_refresh:app", free_port(), bare_env, tmp, tmp / "gunicorn-bare.log"
        ) as bare,
    ):
        server.start("/.well-known/openid-configuration")
        empty.start("/")
        bare.start("/")
        try:
            asyncio.run(
                all_phases(opts, empty, bare, bare_tokens, server, creds, settings, results)
            )
        finally:
            errors = [
                line
                for line in server.log_tail(400).splitlines()
                if "Traceback" in line or "[ERROR]" in line or "WORKER TIMEOUT" in line
            ]
            if errors:
                log(f"server log has {len(errors)} error line(s), e.g.: {errors[0]}")


# -- report ---------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN -> "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def comparisons(results: Results) -> list[dict[str, Any]]:
    """Each headline figure beside its floor or target."""
    p = results.phases
    hash_timing = results.floors.get("password_hash")
    rows: list[dict[str, Any]] = []
    empty = p.get("empty endpoint")
    for name in ("discovery", "jwks", "userinfo"):
        if name in p and empty and empty.rate:
            rows.append(
                {
                    "figure": f"{name} req/s",
                    "value": p[name].rate,
                    "floor": "empty endpoint req/s",
                    "floor_value": empty.rate,
                    "ratio": p[name].rate / empty.rate,
                    "target": None,
                    "ok": None,
                }
            )
    if "refresh" in p:
        r = p["refresh"]
        bare = p.get("bare refresh")
        if bare and bare.rate:
            rows.append(
                {
                    "figure": "refresh req/s",
                    "value": r.rate,
                    "floor": "bare refresh req/s",
                    "floor_value": bare.rate,
                    "ratio": r.rate / bare.rate,
                    "target": None,
                    "ok": None,
                }
            )
            rows.append(
                {
                    "figure": "refresh server CPU ms",
                    "value": r.server_cpu_ms_per_op,
                    "floor": "bare refresh CPU ms",
                    "floor_value": bare.server_cpu_ms_per_op,
                    "ratio": r.server_cpu_ms_per_op / bare.server_cpu_ms_per_op,
                    "target": None,
                    "ok": None,
                }
            )
        rows.append(
            {
                "figure": "refresh req/s",
                "value": r.rate,
                "floor": "target",
                "floor_value": REFRESH_TARGET_RPS,
                "ratio": r.rate / REFRESH_TARGET_RPS,
                "target": f">= {REFRESH_TARGET_RPS:.0f} req/s",
                "ok": r.rate >= REFRESH_TARGET_RPS,
            }
        )
        rows.append(
            {
                "figure": "refresh p99 ms",
                "value": r.latency_ms(99),
                "floor": "target",
                "floor_value": REFRESH_TARGET_P99_MS,
                "ratio": None,
                "target": f"< {REFRESH_TARGET_P99_MS:.0f} ms",
                "ok": r.latency_ms(99) < REFRESH_TARGET_P99_MS,
            }
        )
    concurrent = results.floors.get("password_hash_2_at_once")
    if "sign-in flow" in p and hash_timing is not None:
        f, hash_s = p["sign-in flow"], hash_timing.median_s
        if concurrent is not None:
            rows.append(
                {
                    "figure": "sign-in flows/s",
                    "value": f.rate,
                    "floor": "2 cores / one hash",
                    "floor_value": CORES / hash_s,
                    "ratio": f.rate * hash_s / CORES,
                    "target": None,
                    "ok": None,
                }
            )
            hash_s = concurrent.median_s
        floor = CORES / hash_s
        rows.append(
            {
                "figure": "sign-in flows/s",
                "value": f.rate,
                "floor": "hash floor flows/s" if concurrent is None else "2 cores / hash 2-at-once",
                "floor_value": floor,
                "ratio": f.rate / floor,
                "target": f"ratio >= {FLOW_TARGET_RATIO}",
                "ok": f.rate / floor >= FLOW_TARGET_RATIO,
            }
        )
        # CPU beside CPU: the server's CPU per flow against the CPU one hash takes while both
        # cores hash (wall time would count waiting for a core as work the hash did).
        cpu = f.server_cpu_ms_per_op
        hash_cpu_ms = (concurrent or hash_timing).cpu_median_s * 1000
        rows.append(
            {
                "figure": "server CPU ms/flow",
                "value": cpu,
                "floor": "one hash CPU ms",
                "floor_value": hash_cpu_ms,
                "ratio": cpu / hash_cpu_ms,
                "target": None,
                "ok": None,
            }
        )
        rows.append(
            {
                "figure": "server CPU ms/flow minus hash",
                "value": cpu - hash_cpu_ms,
                "floor": "target",
                "floor_value": FLOW_CPU_TARGET_MS,
                "ratio": None,
                "target": f"<= {FLOW_CPU_TARGET_MS:.0f} ms",
                # Below zero, the flow used less CPU than the hash it must do: a measuring error,
                # never a pass.
                "ok": 0 <= cpu - hash_cpu_ms <= FLOW_CPU_TARGET_MS,
            }
        )
    return rows


def self_check(results: Results) -> list[str]:
    """What in the figures cannot be true, each as a sentence (none: the arithmetic holds).

    Each ratio printed is its value over its floor; no phase used more CPU than the machine
    has cores (its CPU per operation times its rate, against the window); a hash's CPU time is
    no more than its wall time times the threads it may use; a flow costs at least its hash."""
    problems = []
    machine_cores = os.cpu_count() or CORES
    for c in comparisons(results):
        if c["ratio"] is not None and c["floor_value"]:
            expected = c["value"] / c["floor_value"]
            if not math.isclose(c["ratio"], expected, rel_tol=1e-9):
                problems.append(f"{c['figure']}: ratio {c['ratio']} is not {expected}")
    for phase in results.phases.values():
        used = phase.server_cores + phase.loadgen_cores
        if used > machine_cores * 1.05:
            problems.append(
                f"{phase.name}: server and load generator used {used:.2f} cores of {machine_cores}"
            )
    for name, t in results.floors.items():
        threads = results.parallelism if name.startswith("password_hash") else 1
        if t.cpu_median_s > t.median_s * threads * 1.05 + 0.0005:
            problems.append(
                f"{name}: {t.cpu_median_s * 1000:.3f} ms of CPU in {t.median_s * 1000:.3f} ms"
            )
    flow = results.phases.get("sign-in flow")
    hashed = results.floors.get("password_hash_2_at_once") or results.floors.get("password_hash")
    if flow and hashed and flow.server_cpu_ms_per_op < hashed.cpu_median_s * 1000:
        problems.append(
            f"sign-in flow: {flow.server_cpu_ms_per_op:.1f} ms of server CPU per flow is less than"
            f" the {hashed.cpu_median_s * 1000:.1f} ms of its password hash"
        )
    return problems


def phase_table(phases: list[PhaseResult]) -> list[str]:
    """One line per phase with every figure, then the errors by kind and worker restarts."""
    # The database server's CPU, when it is a process of its own that was measured.
    database = any(r.database_cpu_s for r in phases)
    rows = []
    for r in phases:
        rows.append(
            [
                r.name,
                str(r.concurrency),
                f"{r.completed:,}",
                fmt(r.rate),
                fmt(r.latency_ms(50), 2),
                fmt(r.latency_ms(99), 2),
                str(r.errors),
                fmt(r.server_cpu_ms_per_op, 3),
                fmt(r.server_cores, 2),
                *([fmt(r.database_cpu_ms_per_op, 3)] if database else []),
                fmt(r.loadgen_cpu_ms_per_op, 3),
                fmt(r.loadgen_cores, 2),
                fmt(r.other_cores, 2),
                fmt(r.cpu_probe_ms, 1),
            ]
        )
    out = [
        table(
            [
                "phase",
                "conc",
                "done",
                "per s",
                "p50 ms",
                "p99 ms",
                "errors",
                "server ms/op",
                "server cores",
                *(["database ms/op"] if database else []),
                "loadgen ms/op",
                "loadgen cores",
                "other cores",
                "probe ms",
            ],
            rows,
        ),
    ]
    out.append(
        "(ms/op: CPU time per request or flow; cores: CPU time / window; "
        + ("database: its server's processes serving this server; " if database else "")
        + "other: kernel softirq and other programs; probe: fixed Python loop, higher = "
        "slower CPU)"
    )
    for r in phases:
        for kind, count in r.error_kinds.items():
            out.append(f"  ! {r.name}: {count} x {kind}")
    restarts = [f"{r.name} {r.worker_restarts}" for r in phases if r.worker_restarts]
    if restarts:
        out.append("  worker restarts (max_requests) in windows: " + ", ".join(restarts))
    return out


def render(results: Results, complete: bool = True) -> str:
    opts = results.options
    database = "PostgreSQL" if (opts.database_url or "").startswith("postgres") else "SQLite"
    out = [
        f"idp benchmark: gunicorn {WORKERS} workers, {database}, {os.cpu_count()} cores; "
        f"{opts.warmup:g} s warm-up + {opts.duration:g} s measured per phase"
    ]
    if not complete:
        out.append("INCOMPLETE RUN: partial results")
    if results.idle_busy_cores is not None:
        out.append(f"machine busy before the run: {results.idle_busy_cores:.2f} cores")

    if results.phases:
        out += ["", *phase_table(list(results.phases.values()))]

    if results.floors:
        out += [
            "",
            table(
                ["cost floor", "median ms", "min ms", "CPU median ms", "runs"],
                [
                    [
                        name.replace("_", " "),
                        fmt(t.median_s * 1000, 3),
                        fmt(t.min_s * 1000, 3),
                        fmt(t.cpu_median_s * 1000, 3),
                        str(t.runs),
                    ]
                    for name, t in results.floors.items()
                ],
            ),
        ]

    rows = []
    for c in comparisons(results):
        verdict = "" if c["ok"] is None else ("PASS" if c["ok"] else "FAIL")
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.2f}"
        rows.append(
            [
                c["figure"],
                fmt(c["value"], 2 if c["value"] < 100 else 1),
                c["floor"],
                fmt(c["floor_value"], 2 if c["floor_value"] < 100 else 1),
                ratio,
                c["target"] or "-",
                verdict,
            ]
        )
    if rows:
        out += [
            "",
            table(["figure", "value", "floor", "floor value", "ratio", "target", ""], rows),
        ]
    problems = self_check(results)
    out += ["", "self-check: " + ("the figures are consistent" if not problems else "FAIL")]
    out += [f"  {problem}" for problem in problems]
    return "\n".join(out)


def to_json(results: Results, complete: bool) -> dict[str, Any]:
    opts = results.options
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "git_revision": git_revision(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "idle_busy_cores": results.idle_busy_cores and round(results.idle_busy_cores, 3),
        "settings": {
            "workers": WORKERS,
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "concurrency": opts.concurrency,
            "flow_concurrency": opts.flow_concurrency,
        },
        "floors": {name: t.to_json() for name, t in results.floors.items()},
        "phases": {name: r.to_json() for name, r in results.phases.items()},
        "self_check": self_check(results),
        "comparisons": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.items()}
            for c in comparisons(results)
        ],
    }


def git_revision() -> str | None:
    try:  # read-only
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so every server is stopped on the way out


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    results = Results(opts)
    status = 0
    try:
        with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
            run(opts, Path(tmp), results)
    except ServerError as exc:
        log(f"failed: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        status = 130
    if results.phases or results.floors:
        print(render(results, status == 0))
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(to_json(results, status == 0), indent=2) + "\n")
        log(f"wrote {opts.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
