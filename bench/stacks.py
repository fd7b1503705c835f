"""Compare serving stacks for the provider: ``python bench/stacks.py [--quick]``.

The same app (``idp.wsgi:app``) on the same seeded SQLite database, served in turn by:

* ``sync``: gunicorn's synchronous workers (2 x cores), which close every connection;
* ``buffering``: what ``idp serve`` runs today (``idp/gunicorn_conf.py``, its threaded
  worker that reads each request whole before a thread serves it, keep-alive 2 s);
* ``gthread``: gunicorn's own threaded worker with the same settings (2 threads, keep-alive);
* ``granian``: granian in WSGI mode, one worker per core with two blocking threads.

Each round starts every stack once, in an order that moves by one each round, and runs the
same phases against it (discovery, JWKS, userinfo and refresh_token grants at 32 connections,
sign-in flows at 8) with the asyncio load generator, which keeps a connection alive whenever
the server does. Per stack and phase it reports the median over the rounds of req/s, p50,
p99, server CPU per operation and connections opened per operation, and per stack the memory
of its workers (RSS and PSS from /proc). Other programs' CPU use is read per round; a round
in which they kept more than a quarter of a core busy is flagged. See bench/README.md.
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
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

from bench.httpclient import Connection  # noqa: E402
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
    GUNICORN_CONF,
    HOST,
    REDIRECT_URI,
    REPO_ROOT,
    Gunicorn,
    Seed,
    ServerError,
    Snapshot,
    bench_environment,
    free_port,
    machine_busy,
    seed,
)

RESULTS = REPO_ROOT / "bench" / "results" / "stacks.json"
CORES = os.cpu_count() or 2
BUSY_CORES = 0.25  # other programs' CPU use above which a round is flagged
APP = "idp.wsgi:app"
PHASES = ("discovery", "jwks", "userinfo", "refresh", "sign-in flow")


@dataclass(frozen=True)
class Stack:
    """One way of serving the app: its command line and what it promises."""

    key: str
    description: str
    workers: int
    keep_alive: bool  # whether the configuration keeps connections open between requests

    def argv(self, port: int, workers: int | None = None) -> list[str]:
        """The command line serving the app on ``port`` (``workers``: this stack's own)."""
        count = str(workers or self.workers)
        if self.key == "granian":
            return [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "wsgi",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                count,
                *GRANIAN_OPTIONS,
                APP,
            ]
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
        gunicorn += ["--bind", f"{HOST}:{port}", "--workers", count]
        return [*gunicorn, *GUNICORN_OPTIONS[self.key], APP]


# On top of idp/gunicorn_conf.py (preload, hooks, timeout 30 s, keepalive 2 s, max_requests).
# A synchronous worker with more than one thread would be turned into gthread by gunicorn.
GUNICORN_OPTIONS = {
    "sync": ["--worker-class", "sync", "--threads", "1"],
    "buffering": [],
    "gthread": ["--worker-class", "gthread"],
}
# HTTP/1 only, as the others; two blocking threads a worker, as gthread's two threads (a
# request's database wait overlaps another's work); a worker that dies is started again
# (off by default: granian would stop); a worker that will not stop is killed after 30 s.
GRANIAN_OPTIONS = [
    "--blocking-threads",
    "2",
    "--http",
    "1",
    "--no-ws",
    "--respawn-failed-workers",
    "--workers-kill-timeout",
    "30",
    "--log-level",
    "warning",
]

STACKS = {
    "sync": Stack("sync", "gunicorn sync workers, no keep-alive", 2 * CORES, False),
    "buffering": Stack(
        "buffering", "gunicorn, idp/gunicorn_conf.py (buffering gthread)", 2 * CORES, True
    ),
    "gthread": Stack("gthread", "gunicorn gthread, 2 threads, keep-alive 2 s", 2 * CORES, True),
    "granian": Stack("granian", "granian --interface wsgi, 2 blocking threads", CORES, True),
}


def stack_environment(stack: Stack, env: dict[str, str], metrics_dir: Path) -> dict[str, str]:
    """The server's environment: granian gets a fresh Prometheus directory as gunicorn's
    settings make one, so that every stack's app counts its metrics in files alike."""
    if stack.key != "granian":
        return env
    return {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


class StackServer(Gunicorn):
    """A server started with a stack's command line; CPU and workers are read as for gunicorn
    (a master and its child processes)."""

    def __init__(self, stack: Stack, port: int, env: dict[str, str], cwd: Path, log: Path):
        super().__init__(APP, port, env, cwd, log, stack.workers)
        self.stack = stack

    @property
    def argv(self) -> list[str]:
        return self.stack.argv(self.port)

    def start(self, ready_path: str, timeout: float = 60.0) -> None:
        """Started once every worker serves. gunicorn's workers are forked from a master that
        has loaded the app; each of granian's imports it after it starts, and serves once its
        runtime's threads are up (before that it has one thread)."""
        super().start(ready_path, timeout)
        deadline = time.monotonic() + timeout
        while self.stack.key == "granian" and min(map(threads, self._scan_workers())) < 2:
            if time.monotonic() > deadline:
                raise ServerError(f"granian's workers not serving:\n{self.log_tail()}")
            time.sleep(0.1)


def threads(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return proc_field(fh.read(), "Threads")
    except OSError:
        return 0


# -- memory -----------------------------------------------------------------------------


def proc_field(text: str, field_name: str) -> int:
    """The number of a ``Name:   123 kB`` (or ``Threads:  4``) line of /proc/<pid>/status or
    smaps_rollup (0: absent)."""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == field_name:
            return int(rest.split()[0])
    return 0


def memory_mib(pid: int) -> tuple[float, float]:
    """RSS and PSS of one process in MiB (PSS shares each page among the processes mapping
    it, so preloaded pages a worker shares with its master count only in part)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            rss = proc_field(fh.read(), "VmRSS")
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            pss = proc_field(fh.read(), "Pss")
    except OSError:
        return float("nan"), float("nan")
    return rss / 1024, pss / 1024


# -- one stack, one round -------------------------------------------------------------


@dataclass
class StackRound:
    """One stack's phases in one round, with the machine's state and its workers' memory."""

    stack: str
    round: int
    position: int  # its place in the round's order
    idle_other_cores: float  # other programs' CPU use just before, in cores
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    connections: dict[str, int] = field(default_factory=dict)  # opened inside each window
    worker_rss_mib: list[float] = field(default_factory=list)
    worker_pss_mib: list[float] = field(default_factory=list)
    master_pss_mib: float = float("nan")

    def connections_per_op(self, phase: str) -> float:
        done = self.phases[phase].completed
        return self.connections[phase] / done if done else float("nan")

    @property
    def other_cores(self) -> float:
        """The most other programs (and unattributed kernel work) used in any of its phases."""
        return max((p.other_cores for p in self.phases.values()), default=0.0)

    @property
    def busy(self) -> bool:
        return self.idle_other_cores > BUSY_CORES or self.other_cores > BUSY_CORES


@dataclass
class Options:
    duration: float
    warmup: float
    rounds: int
    concurrency: int
    flow_concurrency: int
    timeout: float
    stacks: tuple[str, ...]
    output: Path


def log(message: str) -> None:
    print(f"[stacks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def idle_cores(seconds: float = 1.0) -> float:
    before = machine_busy()
    time.sleep(seconds)
    return (machine_busy() - before) / seconds


async def measure(
    opts: Options, done: StackRound, server: StackServer, name: str, operation: Any, conc: int
) -> None:
    marks: list[int] = []

    def snapshot() -> Snapshot:
        marks.append(Connection.opened)  # read at the window's two edges
        return server.snapshot()

    unit = "flow" if name == "sign-in flow" else "req"
    result = await run_phase(
        name,
        unit,
        conc,
        operation,
        warmup=opts.warmup,
        duration=opts.duration,
        timeout=opts.timeout,
        snapshot=snapshot,
    )
    for conn in operation.connections:
        conn.close()  # no kept-alive connection outlives its phase
    done.phases[name] = result
    done.connections[name] = marks[1] - marks[0]
    log(
        f"  {done.stack} {name}: {result.rate:.1f} {unit}/s, p99 {result.latency_ms(99):.1f} ms, "
        f"{done.connections_per_op(name):.2f} connections/{unit}, {result.errors} errors"
    )


async def phases(opts: Options, done: StackRound, server: StackServer, creds: Seed) -> None:
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
    spares = max(4, opts.concurrency // 4)
    tokens = await obtain_tokens(rp, opts.concurrency + spares, opts.flow_concurrency, opts.timeout)
    discovery = StaticGet(HOST, server.port, "/.well-known/openid-configuration", opts.concurrency)
    await discovery.prime(lambda doc: doc.get("issuer") == issuer)
    await measure(opts, done, server, "discovery", discovery, opts.concurrency)
    jwks = StaticGet(HOST, server.port, "/jwks.json", opts.concurrency)
    await jwks.prime(lambda doc: any(k.get("kid") == creds.kid for k in doc.get("keys", [])))
    await measure(opts, done, server, "jwks", jwks, opts.concurrency)
    userinfo = Userinfo(rp, [t["access_token"] for t in tokens[: opts.concurrency]])
    await userinfo.prime(lambda doc: doc.get("email") == creds.email)
    await measure(opts, done, server, "userinfo", userinfo, opts.concurrency)
    chains = RefreshChains(rp, [t["refresh_token"] for t in tokens], opts.concurrency)
    await measure(opts, done, server, "refresh", chains, opts.concurrency)
    flows = Flows(rp, opts.flow_concurrency)
    await measure(opts, done, server, "sign-in flow", flows, opts.flow_concurrency)


def run_stack(
    opts: Options, stack: Stack, env: dict[str, str], tmp: Path, creds: Seed, rnd: int, pos: int
) -> StackRound:
    done = StackRound(stack.key, rnd, pos, idle_cores())
    port = free_port()
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir=tmp))
    served_env = stack_environment(
        stack, {**env, "IDP_OIDC__ISSUER": f"http://{HOST}:{port}"}, metrics_dir
    )
    log_path = tmp / f"{stack.key}-{rnd}.log"
    log(f"round {rnd}: {stack.key} ({stack.description}), other cores {done.idle_other_cores:.2f}")
    try:
        with StackServer(stack, port, served_env, tmp, log_path) as server:
            server.start("/.well-known/openid-configuration")
            asyncio.run(phases(opts, done, server, creds))
            assert server.proc is not None
            for pid in server._scan_workers():
                rss, pss = memory_mib(pid)
                done.worker_rss_mib.append(rss)
                done.worker_pss_mib.append(pss)
            done.master_pss_mib = memory_mib(server.proc.pid)[1]
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return done


def order(stacks: tuple[str, ...], rnd: int) -> list[str]:
    """The round's order: each round starts one stack later, so each takes each place."""
    shift = (rnd - 1) % len(stacks)
    return [*stacks[shift:], *stacks[:shift]]


def run(opts: Options, tmp: Path, rounds: list[StackRound]) -> None:
    port = free_port()
    env = bench_environment(tmp, port)
    log(f"seeding {tmp} with the idp CLI (one database for every stack)")
    creds = seed(env, tmp)
    for rnd in range(1, opts.rounds + 1):
        for pos, key in enumerate(order(opts.stacks, rnd), start=1):
            rounds.append(run_stack(opts, STACKS[key], env, tmp, creds, rnd, pos))


# -- report -----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    kept = [v for v in values if v == v]  # NaN (nothing completed) is not a figure
    return statistics.median(kept) if kept else float("nan")


@dataclass(frozen=True)
class Summary:
    """One stack's phase over every round: medians, and how many rounds were busy."""

    stack: str
    phase: str
    rounds: int
    busy_rounds: int
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_op: float
    connections_per_op: float
    errors: int
    restarts: int  # workers replaced inside the windows (gunicorn's max_requests)

    @property
    def keep_alive(self) -> bool:
        """Whether the load generator's connections were reused (fewer than one new
        connection every two operations)."""
        return self.connections_per_op < 0.5


def summarise(rounds: list[StackRound], stack: str, phase: str) -> Summary | None:
    mine = [r for r in rounds if r.stack == stack and phase in r.phases]
    if not mine:
        return None
    results = [r.phases[phase] for r in mine]
    return Summary(
        stack=stack,
        phase=phase,
        rounds=len(mine),
        busy_rounds=sum(r.busy for r in mine),
        rate=median([p.rate for p in results]),
        p50_ms=median([p.latency_ms(50) for p in results]),
        p99_ms=median([p.latency_ms(99) for p in results]),
        cpu_ms_per_op=median([p.server_cpu_ms_per_op for p in results]),
        connections_per_op=median([r.connections_per_op(phase) for r in mine]),
        errors=sum(p.errors for p in results),
        restarts=sum(p.worker_restarts for p in results),
    )


def memory(rounds: list[StackRound], stack: str) -> dict[str, float]:
    mine = [r for r in rounds if r.stack == stack]
    return {
        "workers": median([float(len(r.worker_rss_mib)) for r in mine]),
        "rss_per_worker_mib": median([median(r.worker_rss_mib) for r in mine]),
        "pss_per_worker_mib": median([median(r.worker_pss_mib) for r in mine]),
        "pss_total_mib": median([r.master_pss_mib + sum(r.worker_pss_mib) for r in mine]),
    }


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def self_check(rounds: list[StackRound]) -> list[str]:
    """What cannot be true in the figures, each as a sentence: a median outside the rounds'
    range, more CPU than the machine has, connections reused by a stack that closes them (or
    the reverse), a negative count."""
    problems = []
    for r in rounds:
        for name, p in r.phases.items():
            if p.server_cores + p.loadgen_cores > CORES * 1.05:
                problems.append(f"round {r.round} {r.stack} {name}: more CPU than {CORES} cores")
            if r.connections[name] < 0:
                problems.append(f"round {r.round} {r.stack} {name}: negative connection count")
    for stack in dict.fromkeys(r.stack for r in rounds):
        for phase in PHASES:
            s = summarise(rounds, stack, phase)
            if s is not None and stack in STACKS and s.keep_alive != STACKS[stack].keep_alive:
                problems.append(
                    f"{stack} {phase}: {s.connections_per_op:.3f} connections per operation, "
                    f"but the stack {'keeps' if STACKS[stack].keep_alive else 'closes'} them"
                )
            rates = [r.phases[phase].rate for r in rounds if r.stack == stack and phase in r.phases]
            if s is not None and not min(rates) <= s.rate <= max(rates):
                problems.append(
                    f"{stack} {phase}: median {s.rate} outside {min(rates)}..{max(rates)}"
                )
    return problems


def render(rounds: list[StackRound], opts: Options, complete: bool = True) -> str:
    stacks = list(dict.fromkeys(r.stack for r in rounds))
    out = [
        f"serving stacks: {len(stacks)} stacks x {max((r.round for r in rounds), default=0)} "
        f"rounds, {CORES} cores, SQLite; {opts.warmup:g} s warm-up + {opts.duration:g} s per phase"
    ]
    if not complete:
        out.append("INCOMPLETE RUN: partial results")
    rows = []
    for stack in stacks:
        for phase in PHASES:
            s = summarise(rounds, stack, phase)
            if s is None:
                continue
            rows.append(
                [
                    stack,
                    phase,
                    fmt(s.rate),
                    fmt(s.p50_ms, 2),
                    fmt(s.p99_ms, 2),
                    fmt(s.cpu_ms_per_op, 3),
                    fmt(s.connections_per_op, 3),
                    "yes" if s.keep_alive else "no",
                    str(s.errors),
                    str(s.restarts),
                    f"{s.busy_rounds}/{s.rounds}",
                ]
            )
    out += [
        "",
        table(
            [
                "stack",
                "phase",
                "per s",
                "p50 ms",
                "p99 ms",
                "server ms/op",
                "conn/op",
                "kept alive",
                "errors",
                "restarts",
                "busy rounds",
            ],
            rows,
        ),
        "(medians over the rounds; conn/op: TCP connections the load generator opened per "
        "request or flow)",
    ]
    mem_rows = []
    for stack in stacks:
        m = memory(rounds, stack)
        mem_rows.append(
            [
                stack,
                STACKS[stack].description if stack in STACKS else "",
                fmt(m["workers"], 0),
                fmt(m["rss_per_worker_mib"]),
                fmt(m["pss_per_worker_mib"]),
                fmt(m["pss_total_mib"]),
            ]
        )
    out += [
        "",
        table(
            [
                "stack",
                "configuration",
                "workers",
                "RSS/worker MiB",
                "PSS/worker MiB",
                "PSS all MiB",
            ],
            mem_rows,
        ),
    ]
    round_rows = []
    for r in rounds:
        round_rows.append(
            [
                str(r.round),
                f"{r.position}. {r.stack}",
                fmt(r.idle_other_cores, 2),
                fmt(r.other_cores, 2),
                "BUSY" if r.busy else "",
                *(fmt(r.phases[p].rate) if p in r.phases else "-" for p in PHASES),
            ]
        )
    out += [
        "",
        table(["round", "stack", "other before", "other max", "", *PHASES], round_rows),
        f"(other: cores used by other programs and unattributed kernel work, before the stack "
        f"started and at most in one of its phases; BUSY above {BUSY_CORES})",
    ]
    problems = self_check(rounds)
    out += ["", "self-check: " + ("the figures are consistent" if not problems else "FAIL")]
    out += [f"  {p}" for p in problems]
    return "\n".join(out)


def to_json(rounds: list[StackRound], opts: Options, complete: bool) -> dict[str, Any]:
    stacks = list(dict.fromkeys(r.stack for r in rounds))
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "machine": {"cpus": CORES, "python": platform.python_version()},
        "settings": {
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "rounds": opts.rounds,
            "concurrency": opts.concurrency,
            "flow_concurrency": opts.flow_concurrency,
        },
        "stacks": {
            key: {
                "description": STACKS[key].description,
                "argv": STACKS[key].argv(0)[1:],
                "memory": memory(rounds, key),
                "phases": {
                    p: s.__dict__ | {"keep_alive": s.keep_alive}
                    for p in PHASES
                    if (s := summarise(rounds, key, p)) is not None
                },
            }
            for key in stacks
        },
        "rounds": [
            {
                "round": r.round,
                "position": r.position,
                "stack": r.stack,
                "idle_other_cores": round(r.idle_other_cores, 3),
                "busy": r.busy,
                "connections": r.connections,
                "worker_rss_mib": r.worker_rss_mib,
                "worker_pss_mib": r.worker_pss_mib,
                "master_pss_mib": r.master_pss_mib,
                "phases": {n: p.to_json() for n, p in r.phases.items()},
            }
            for r in rounds
        ],
        "self_check": self_check(rounds),
    }


# -- command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="measured s per phase (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured s before (1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, every stack in each (3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s phases, 0.5 s warm-up")
    parser.add_argument("--concurrency", type=int, default=32, help="request connections (32)")
    parser.add_argument("--flow-concurrency", type=int, default=8, help="sign-in flows (8)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request or flow (30 s)")
    parser.add_argument(
        "--stacks", default=",".join(STACKS), help=f"comma-separated, of {', '.join(STACKS)}"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    stacks = tuple(s.strip() for s in args.stacks.split(",") if s.strip())
    if not stacks or not set(stacks) <= set(STACKS):
        parser.error(f"--stacks: choose from {', '.join(STACKS)}")
    if "granian" in stacks and importlib.util.find_spec("granian") is None:
        parser.error("granian is not installed: pip install -e '.[bench]' (or --stacks without it)")
    if args.quick:
        args.duration, args.warmup = 1.0, 0.5
    if args.duration <= 0 or args.warmup < 0 or args.rounds < 1:
        parser.error("durations must be positive and rounds at least 1")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        concurrency=args.concurrency,
        flow_concurrency=args.flow_concurrency,
        timeout=args.timeout,
        stacks=stacks,
        output=args.output,
    )


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: every server is stopped on the way out


def main(argv: list[str] | None = None, runner: Callable[..., None] = run) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    rounds: list[StackRound] = []
    status = 0
    try:
        with tempfile.TemporaryDirectory(prefix="idp-stacks-") as tmp:
            runner(opts, Path(tmp), rounds)
    except ServerError as exc:
        log(f"failed: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        status = 130
    if rounds:
        print(render(rounds, opts, status == 0))
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(to_json(rounds, opts, status == 0), indent=2) + "\n")
        log(f"wrote {opts.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
