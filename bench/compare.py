"""Side by side: ``python bench/compare.py [--duration S]``.

Runs the same request load against our provider (gunicorn, 2 x cores workers, a fresh
SQLite database) and then against a reference provider, panva's oidc-provider (bench/peer/,
one node process), one after the other on this machine: discovery, JWKS, userinfo, refresh-token
rotation and client_credentials, 32 connections each. Prints both sides' figures and their
ratios and writes bench/results/compare.json. See bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/compare.py` puts bench/ first on sys.path; import the `bench` package from the
# repository root instead (and never let a bench module shadow a standard-library one).
_REPO_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == _REPO_ROOT / "bench":
    sys.path[0] = str(_REPO_ROOT)
elif str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from joserfc import jwt  # noqa: E402
from joserfc.errors import JoseError  # noqa: E402
from joserfc.jwk import KeySet  # noqa: E402

from bench import floors, peer_provider, wrk  # noqa: E402
from bench.httpclient import Connection, HTTPError, basic_auth, form_body  # noqa: E402
from bench.load import (  # noqa: E402
    AuthorizationRequest,
    BenchError,
    ClientCredentials,
    Flows,
    PhaseResult,
    RefreshChains,
    RelyingParty,
    StaticGet,
    Userinfo,
    check_refresh_answer,
    obtain_tokens,
)
from bench.peer_provider import PeerRelyingParty, PeerServer  # noqa: E402
from bench.run import (  # noqa: E402
    CORES,
    Options,
    Results,
    check_idle,
    comparisons,
    fmt,
    git_revision,
    log,
    measure,
    measure_wrk,
    phase_table,
    table,
)
from bench.server import (  # noqa: E402
    API_SCOPE,
    HOST,
    REDIRECT_URI,
    REPO_ROOT,
    Gunicorn,
    Measured,
    ServerError,
    bench_environment,
    free_port,
    seed,
)
from bench.wrk import WrkPhase  # noqa: E402
from idp.config import load as load_settings  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "compare.json"
# Ours as production runs it: idp/gunicorn_conf.py's default of 2 x cores workers.
OUR_WORKERS = 2 * (os.cpu_count() or 1)
PHASES = ("discovery", "jwks", "userinfo", "refresh", "client credentials")
FLOW = "sign-in flow"


@dataclass
class Target:
    """What differs between the two providers for the same phases."""

    name: str  # "ours" | "theirs"
    server: Measured
    rp: RelyingParty
    client_credentials: dict[str, str]  # the form fields besides grant_type
    results: Results
    description: str = ""
    checks: dict[str, str] = field(default_factory=dict)  # what was checked, by kind

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.rp.port}"

    def failed(self) -> list[str]:
        """Phases with an error or nothing completed: their figures are not to be used."""
        return [p.name for p in self.results.phases.values() if p.errors or not p.completed]


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="measured s per phase (10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up s per phase (1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument(
        "--flow-concurrency", type=int, default=8, help="our concurrent sign-in flows (8)"
    )
    parser.add_argument("--no-flows", action="store_true", help="skip our sign-in flow phase")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, s (30)")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="JSON file (bench/results/compare.json)"
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk when installed (auto), or asyncio",
    )
    parser.add_argument(
        "--database-url",
        help="an empty database for ours, e.g. postgresql://postgres@127.0.0.1/bench "
        "(default: a fresh SQLite file)",
    )
    args = parser.parse_args(argv)
    if args.loadgen == "wrk" and not wrk.available():
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
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
        sign_runs=0,
        output=args.output,
        only=frozenset(PHASES if args.no_flows else (*PHASES, FLOW)),
        use_wrk=args.loadgen == "wrk" or (args.loadgen == "auto" and wrk.available()),
        database_url=args.database_url,
    )


# -- the phases, the same for both sides ----------------------------------------------


async def load_target(opts: Options, target: Target) -> None:
    """Check one answer of each kind, then run every request phase against ``target``."""
    rp, results, conc = target.rp, target.results, opts.concurrency
    discovery = StaticGet(HOST, rp.port, "/.well-known/openid-configuration", conc)
    await discovery.prime(lambda doc: doc.get("issuer") == target.base)
    meta = json.loads(discovery.expected or b"{}")
    jwks_path = urlsplit(meta["jwks_uri"]).path
    userinfo_path = urlsplit(meta["userinfo_endpoint"]).path
    rp.authorize_path = urlsplit(meta["authorization_endpoint"]).path
    rp.token_path = urlsplit(meta["token_endpoint"]).path
    jwks = StaticGet(HOST, rp.port, jwks_path, conc)
    await jwks.prime(lambda doc: bool(doc.get("keys")))
    keys = KeySet.import_key_set(json.loads(jwks.expected or b"{}"))

    # Set-up (untimed): one sign-in per refresh chain, plus a second set for wrk's warm-up or
    # spares for the asyncio generator, plus one for the checked refresh below.
    extra = conc if opts.use_wrk else max(4, conc // 4)
    log(f"{target.name}: signing in {conc + extra + 1} times for tokens (untimed set-up)")
    conn = Connection(HOST, rp.port)
    request = AuthorizationRequest.new(rp)
    first = await rp.sign_in(conn, request)
    check_id_token(first["id_token"], keys, target.base, rp.client_id, request.nonce)
    target.checks["authorization_code"] = (
        "code exchange: access, refresh and ID token; ID token verified against JWKS "
        "(RS256, iss, aud, nonce)"
    )
    tokens = await obtain_tokens(rp, conc + extra, opts.flow_concurrency, opts.timeout)
    fresh = await rp.token_request(
        conn, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    check_refresh_answer(fresh, first["refresh_token"])
    check_id_token(fresh["id_token"], keys, target.base, rp.client_id)
    target.checks["refresh_token"] = "rotated: new refresh token, access token, verified ID token"
    client_credentials = ClientCredentials(rp, target.client_credentials, conc)
    answer = await client_credentials.prime()
    target.checks["client_credentials"] = (
        f"bearer access token, no refresh or ID token; answer carries {sorted(answer)}"
    )

    await measure(
        opts,
        results,
        target.server,
        "discovery",
        "req",
        conc,
        discovery,
        (target.base, WrkPhase("/.well-known/openid-configuration")),
    )
    await measure(
        opts, results, target.server, "jwks", "req", conc, jwks, (target.base, WrkPhase(jwks_path))
    )
    # Userinfo before refresh: a rotation may end the access tokens of the previous generation.
    access = [t["access_token"] for t in tokens[:conc]]
    userinfo = Userinfo(rp, access, userinfo_path)
    await userinfo.prime(lambda doc: doc.get("email") == rp.email and "sub" in doc)
    await measure(
        opts,
        results,
        target.server,
        "userinfo",
        "req",
        conc,
        userinfo,
        (target.base, WrkPhase(userinfo_path, "bearer", tuple(access))),
    )
    refresh = [t["refresh_token"] for t in tokens]
    if opts.use_wrk:
        auth = basic_auth(rp.client_id, rp.client_secret)[1]
        warm = WrkPhase(rp.token_path, "refresh", tuple(refresh[conc:]), auth)
        measured = WrkPhase(rp.token_path, "refresh", tuple(refresh[:conc]), auth)
        await measure_wrk(opts, results, target.server, "refresh", target.base, measured, warm)
    else:
        chains = RefreshChains(rp, refresh, conc)
        await measure(opts, results, target.server, "refresh", "req", conc, chains)
    # Last: every grant stores a new token, and nothing later depends on them.
    form = form_body(client_credentials.fields)[1].decode()
    auth = basic_auth(rp.client_id, rp.client_secret)[1]
    await measure(
        opts,
        results,
        target.server,
        "client credentials",
        "req",
        conc,
        client_credentials,
        (target.base, WrkPhase(rp.token_path, "post", authorization=auth, body=form)),
    )


def check_id_token(
    value: str, keys: KeySet, issuer: str, client_id: str, nonce: str | None = None
) -> None:
    """An ID token signed with RS256 by a key of the provider's JWKS, for this client."""
    try:
        token = jwt.decode(value, keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise BenchError(f"ID token rejected: {exc}") from exc
    if nonce is not None and token.claims.get("nonce") != nonce:
        raise BenchError("ID token: wrong nonce")


# -- the two sides --------------------------------------------------------------------


def run_ours(opts: Options, tmp: Path, sides: dict[str, Target], idle: float | None) -> None:
    port = free_port()
    env = bench_environment(tmp, port, opts.database_url)
    log(f"ours: seeding {tmp} with the idp CLI")
    creds = seed(env, tmp)
    settings = load_settings(environ=env)
    rp = RelyingParty(
        HOST,
        port,
        creds.client_id,
        creds.client_secret,
        REDIRECT_URI,
        creds.email,
        creds.password,
    )
    database = "PostgreSQL" if (opts.database_url or "").startswith("postgres") else "SQLite"
    log(f"ours: starting gunicorn, {OUR_WORKERS} workers, on {HOST}:{port}")
    with Gunicorn("idp.wsgi:app", port, env, tmp, tmp / "gunicorn-idp.log", OUR_WORKERS) as server:
        server.start("/.well-known/openid-configuration")
        sides["ours"] = target = Target(
            "ours",
            server,
            rp,
            {"scope": API_SCOPE},
            Results(opts),
            f"idp, gunicorn {OUR_WORKERS} workers, {database}",
        )
        target.results.idle_busy_cores = idle
        try:
            asyncio.run(load_target(opts, target))
            if opts.wants(FLOW):
                asyncio.run(our_flows(opts, target, settings))
        finally:
            errors = [
                line
                for line in server.log_tail(400).splitlines()
                if "Traceback" in line or "[ERROR]" in line or "WORKER TIMEOUT" in line
            ]
            if errors:
                log(f"ours: server log has {len(errors)} error line(s), e.g.: {errors[0]}")


async def our_flows(opts: Options, target: Target, settings: Any) -> None:
    """Our sign-in flows beside the password-hash floor, as bench/run.py measures them (the
    peer's development login checks no password, so its flows are not comparable)."""
    log("ours: cost floor: argon2id verify, alone and two at once")
    target.results.floors["password_hash"] = floors.password_verify(settings.auth, opts.hash_runs)
    target.results.floors["password_hash_2_at_once"] = floors.password_verify_concurrent(
        settings.auth, CORES, opts.hash_runs
    )
    flows = Flows(target.rp, opts.flow_concurrency)
    await measure(opts, target.results, target.server, FLOW, "flow", opts.flow_concurrency, flows)


def run_theirs(opts: Options, tmp: Path, sides: dict[str, Target]) -> None:
    port = free_port()
    client_id, secret = "bench", peer_provider.new_client_secret()
    rp = PeerRelyingParty(
        HOST,
        port,
        client_id,
        secret,
        REDIRECT_URI,
        "bench@example.org",
        "not checked",
        scope="openid profile email",
    )
    version = peer_provider.pinned_version()
    log(f"theirs: starting oidc-provider {version} (node, one process) on {HOST}:{port}")
    with PeerServer(port, client_id, secret, REDIRECT_URI, tmp / "peer.log") as server:
        server.start()
        sides["theirs"] = target = Target(
            "theirs",
            server,
            rp,
            {"scope": peer_provider.API_SCOPE, "resource": peer_provider.API_RESOURCE},
            Results(opts),
            f"oidc-provider {version}, node {peer_provider.node_version()}, 1 process, memory",
        )
        try:
            asyncio.run(load_target(opts, target))
        finally:
            errors = [line for line in server.log_tail(400).splitlines() if "server_error" in line]
            if errors:
                log(f"theirs: server log has {len(errors)} error line(s), e.g.: {errors[0]}")


# -- report ---------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b and a == a and b == b else float("nan")


def side_by_side(ours: Results, theirs: Results) -> list[dict[str, Any]]:
    rows = []
    for name in PHASES:
        a, b = ours.phases.get(name), theirs.phases.get(name)
        if a is None or b is None:
            continue
        rows.append(
            {
                "phase": name,
                "ours": _summary(a),
                "theirs": _summary(b),
                "rate_ratio": round(_ratio(a.rate, b.rate), 3),
                "p99_ratio": round(_ratio(a.latency_ms(99), b.latency_ms(99)), 3),
                "server_cpu_ratio": round(
                    _ratio(a.server_cpu_ms_per_op, b.server_cpu_ms_per_op), 3
                ),
            }
        )
    return rows


def _summary(r: PhaseResult) -> dict[str, float | int]:
    return {
        "rate_per_s": round(r.rate, 1),
        "p50_ms": round(r.latency_ms(50), 2),
        "p99_ms": round(r.latency_ms(99), 2),
        "errors": r.errors,
        "server_cpu_ms_per_op": round(r.server_cpu_ms_per_op, 3),
    }


def render(opts: Options, ours: Target | None, theirs: Target | None, complete: bool) -> str:
    out = [
        f"side by side, {os.cpu_count()} cores, {opts.concurrency} connections, "
        f"{opts.warmup:g} s warm-up + {opts.duration:g} s measured per phase, load generator "
        f"{'wrk' if opts.use_wrk else 'asyncio'}"
    ]
    for side in (ours, theirs):
        if side is not None:
            out.append(f"  {side.name}: {side.description}")
    if not complete:
        out.append("INCOMPLETE RUN: partial results")
    if ours is not None and ours.results.idle_busy_cores is not None:
        out.append(f"machine busy before the run: {ours.results.idle_busy_cores:.2f} cores")
    if ours is not None and theirs is not None:
        rows = []
        for row in side_by_side(ours.results, theirs.results):
            a, b = row["ours"], row["theirs"]
            rows.append(
                [
                    row["phase"],
                    fmt(a["rate_per_s"]),
                    fmt(a["p50_ms"], 2),
                    fmt(a["p99_ms"], 2),
                    fmt(b["rate_per_s"]),
                    fmt(b["p50_ms"], 2),
                    fmt(b["p99_ms"], 2),
                    fmt(row["rate_ratio"], 2),
                    fmt(row["p99_ratio"], 2),
                    f"{fmt(a['server_cpu_ms_per_op'], 3)} / {fmt(b['server_cpu_ms_per_op'], 3)}",
                    f"{a['errors']} / {b['errors']}",
                ]
            )
        headers = [
            "phase",
            "ours req/s",
            "p50 ms",
            "p99 ms",
            "theirs req/s",
            "p50 ms",
            "p99 ms",
            "req/s ours/theirs",
            "p99 ours/theirs",
            "server CPU ms/req ours / theirs",
            "errors",
        ]
        out += ["", table(headers, rows)]
        out.append(
            "(req/s ratio above 1: ours serves more; p99 ratio below 1: ours answers faster; "
            "server CPU: all workers' CPU time / requests)"
        )
    for side in (ours, theirs):
        if side is None or not side.results.phases:
            continue
        out += ["", f"{side.name} in detail:", *phase_table(list(side.results.phases.values()))]
    if ours is not None:
        rows = []
        for c in comparisons(ours.results):
            if c["figure"] != "sign-in flows/s":
                continue
            rows.append(
                [c["figure"], fmt(c["value"], 2), c["floor"], fmt(c["floor_value"], 2)]
                + [fmt(c["ratio"], 2), c["target"] or "-"]
            )
        if rows:
            out += [
                "",
                "ours, sign-in flows against the password-hash floor (theirs is not measured: "
                "its development login checks no password):",
                table(["figure", "value", "floor", "floor value", "ratio", "target"], rows),
            ]
    for side in (ours, theirs):
        if side is not None:
            for name in side.failed():
                out.append(f"FAILED: {side.name} {name}: errors, figures not to be used")
    return "\n".join(out)


def to_json(
    opts: Options, ours: Target | None, theirs: Target | None, complete: bool
) -> dict[str, Any]:
    def side(t: Target | None) -> dict[str, Any] | None:
        if t is None:
            return None
        return {
            "description": t.description,
            "checks": t.checks,
            "failed_phases": t.failed(),
            "floors": {name: f.to_json() for name, f in t.results.floors.items()},
            "phases": {name: r.to_json() for name, r in t.results.phases.items()},
        }

    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "git_revision": git_revision(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "idle_busy_cores": ours and ours.results.idle_busy_cores,
        "settings": {
            "our_workers": OUR_WORKERS,
            "peer": f"oidc-provider {peer_provider.pinned_version()}, one node process",
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "concurrency": opts.concurrency,
            "flow_concurrency": opts.flow_concurrency,
            "loadgen": "wrk" if opts.use_wrk else "asyncio",
            "database": "url" if opts.database_url else "sqlite",
        },
        "side_by_side": side_by_side(ours.results, theirs.results) if ours and theirs else [],
        "sign_in_vs_hash_floor": [
            c
            for c in (comparisons(ours.results) if ours else [])
            if c["figure"] == "sign-in flows/s"
        ],
        "ours": side(ours),
        "theirs": side(theirs),
    }


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so every server is stopped on the way out


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    sides: dict[str, Target] = {}
    status = 0
    try:
        peer_provider.install(log)
        idle = Results(opts)
        check_idle(idle)
        with tempfile.TemporaryDirectory(prefix="idp-compare-") as tmp:
            run_ours(opts, Path(tmp), sides, idle.idle_busy_cores)
            run_theirs(opts, Path(tmp), sides)
    except (ServerError, BenchError, HTTPError, OSError) as exc:
        log(f"failed: {type(exc).__name__}: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        status = 130
    ours, theirs = sides.get("ours"), sides.get("theirs")
    complete = status == 0 and ours is not None and theirs is not None
    if sides:
        print(render(opts, ours, theirs, complete))
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(to_json(opts, ours, theirs, complete), indent=2) + "\n")
        log(f"wrote {opts.output}")
    if status == 0 and any(side.failed() for side in sides.values()):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
