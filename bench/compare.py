"""Side by side, in rounds: ``python bench/compare.py [--rounds N] [--duration S]``.

Runs the same request load against our provider and against a reference provider, panva's
oidc-provider (bench/peer/), on this machine, one server at a time, in alternating rounds: ours
(gunicorn, 2 x cores workers, on a scratch PostgreSQL database), the durable reference
(oidc-provider with our PostgreSQL adapter, one node process per core, on a scratch database of
the same server) and the in-memory reference (oidc-provider's memory adapter, one node process;
nothing durable); then ours again, and so on. Phases: discovery, JWKS, userinfo, refresh-token
rotation and client_credentials, 32 connections each. Prints, per phase, the median and spread
of our rate over each reference's across the rounds, each side's CPU per request, the machine's
load in each round (a busy round is flagged and left out), the targets' verdicts, and writes
bench/results/compare.json. See bench/README.md.
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
import signal  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from joserfc import jwt  # noqa: E402
from joserfc.errors import JoseError  # noqa: E402
from joserfc.jwk import KeySet  # noqa: E402

from bench import compare_report, floors, peer_provider, wrk  # noqa: E402
from bench.httpclient import Connection, HTTPError, basic_auth, form_body  # noqa: E402
from bench.load import (  # noqa: E402
    AuthorizationRequest,
    BenchError,
    ClientCredentials,
    Flows,
    RefreshChains,
    RelyingParty,
    StaticGet,
    Userinfo,
    check_refresh_answer,
    obtain_tokens,
)
from bench.peer_provider import PeerRelyingParty, PeerServer  # noqa: E402
from bench.rounds import BUSY_CORES, DURABLE, MEMORY, OURS, Round  # noqa: E402
from bench.run import (  # noqa: E402
    CORES,
    Options,
    Results,
    check_idle,
    log,
    measure,
    measure_wrk,
)
from bench.scratch_db import DEFAULT_SERVER, DatabaseServer, Scratch  # noqa: E402
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
# The durable reference: one node process per core, node's usual way to use them all.
PEER_WORKERS = os.cpu_count() or 1
PHASES = ("discovery", "jwks", "userinfo", "refresh", "client credentials")
FLOW = "sign-in flow"
SCRATCH_PREFIX = "bench_compare_"


@dataclass
class CompareOptions(Options):
    rounds: int = 3
    postgres: str = DEFAULT_SERVER  # the server the scratch databases are created on
    scratch_prefix: str = SCRATCH_PREFIX
    busy_cores: float = BUSY_CORES


@dataclass
class Target:
    """What differs between the providers for the same phases."""

    name: str  # OURS | DURABLE | MEMORY
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


@dataclass
class RoundRun:
    """A round's figures (for bench/rounds.py) and the targets that produced them."""

    round: Round
    targets: dict[str, Target] = field(default_factory=dict)

    def add(self, target: Target) -> Target:
        self.targets[target.name] = target
        self.round.sides[target.name] = target.results.phases  # filled in as phases run
        return target


def parse_args(argv: list[str] | None) -> CompareOptions:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three sides (3)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured s per phase (10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up s per phase (1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument(
        "--flow-concurrency", type=int, default=8, help="our concurrent sign-in flows (8)"
    )
    parser.add_argument(
        "--no-flows", action="store_true", help="skip our sign-in flow phase (round 1)"
    )
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
        "--postgres",
        default=DEFAULT_SERVER,
        help="the PostgreSQL server, on this machine, to create the scratch databases on: "
        f"a URL of a database to connect to for that ({DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--scratch-prefix",
        default=SCRATCH_PREFIX,
        help=f"name prefix of the scratch databases, dropped after use ({SCRATCH_PREFIX})",
    )
    parser.add_argument(
        "--busy-cores",
        type=float,
        default=BUSY_CORES,
        help="a round whose neighbours used more cores than this is left out of the medians "
        f"({BUSY_CORES:g})",
    )
    args = parser.parse_args(argv)
    if args.loadgen == "wrk" and not wrk.available():
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    if args.quick:
        args.duration, args.warmup = 2.0, 0.5
    if args.duration <= 0 or args.warmup < 0 or args.concurrency < 1 or args.flow_concurrency < 1:
        parser.error("durations must be positive and concurrencies at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return CompareOptions(
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
        rounds=args.rounds,
        postgres=args.postgres,
        scratch_prefix=args.scratch_prefix,
        busy_cores=args.busy_cores,
    )


# -- the phases, the same for every side ---------------------------------------------


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


# -- the three sides ------------------------------------------------------------------


def run_ours(
    opts: CompareOptions, tmp: Path, run: RoundRun, database: Scratch, flows: bool
) -> None:
    port = free_port()
    env = bench_environment(tmp, port, database.url)
    log(f"ours: seeding {database.name} with the idp CLI")
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
    log(f"ours: starting gunicorn, {OUR_WORKERS} workers, on {HOST}:{port}")
    with Gunicorn("idp.wsgi:app", port, env, tmp, tmp / "gunicorn-idp.log", OUR_WORKERS) as server:
        server.database = database
        server.start("/.well-known/openid-configuration")
        target = run.add(
            Target(
                OURS,
                server,
                rp,
                {"scope": API_SCOPE},
                Results(opts),
                f"idp, gunicorn {OUR_WORKERS} workers, {describe_database(database)}",
            )
        )
        target.results.idle_busy_cores = run.round.idle_before
        try:
            asyncio.run(load_target(opts, target))
            if flows:
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


def run_peer(opts: Options, tmp: Path, run: RoundRun, database: Scratch | None) -> None:
    """The durable reference (given a scratch ``database``) or the in-memory one."""
    name = MEMORY if database is None else DURABLE
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
    workers = 1 if database is None else PEER_WORKERS
    if database is None:
        how = "1 process, in-memory adapter (nothing durable)"
    else:
        how = (
            f"{workers} worker processes (cluster), PostgreSQL adapter "
            f"(bench/peer/pg_adapter.mjs), {describe_database(database)}"
        )
    log(f"{name}: starting oidc-provider {version}, {how}, on {HOST}:{port}")
    url = database.url if database is not None else None
    log_path = tmp / f"{name}.log"
    with PeerServer(port, client_id, secret, REDIRECT_URI, log_path, url, workers) as srv:
        srv.database = database
        srv.start()
        target = run.add(
            Target(
                name,
                srv,
                rp,
                {"scope": peer_provider.API_SCOPE, "resource": peer_provider.API_RESOURCE},
                Results(opts),
                f"oidc-provider {version}, node {peer_provider.node_version()}, {how}",
            )
        )
        try:
            asyncio.run(load_target(opts, target))
        finally:
            errors = [line for line in srv.log_tail(400).splitlines() if "server_error" in line]
            if errors:
                log(f"{name}: server log has {len(errors)} error line(s), e.g.: {errors[0]}")


def describe_database(database: Scratch) -> str:
    server = database.server
    commit = database.setting("synchronous_commit")
    return (
        f"{server.version()} scratch database, synchronous_commit={commit}, "
        f"fsync={server.setting('fsync')}"
    )


def idle_cores(opts: Options) -> float | None:
    """CPU busy on the machine over a quiet second, in cores (with a warning if too many)."""
    probe = Results(opts)
    check_idle(probe)
    return probe.idle_busy_cores


def run_rounds(opts: CompareOptions, tmp: Path, runs: list[RoundRun]) -> None:
    order = ", ".join(f"{s} ({n})" for s, n in ((OURS, 1), (DURABLE, 2), (MEMORY, 3)))
    log(f"{opts.rounds} rounds, each: {order}")
    with DatabaseServer(opts.postgres) as postgres:
        for number in range(1, opts.rounds + 1):
            run = RoundRun(Round(number))
            runs.append(run)
            run.round.idle_before = idle_cores(opts)
            log(f"round {number} of {opts.rounds}: {run.round.idle_before:.2f} cores busy before")
            here = tmp / f"round-{number}"
            for side in (OURS, DURABLE):
                (here / side).mkdir(parents=True)
            stem = f"{opts.scratch_prefix}{os.getpid()}_r{number}"
            with postgres.scratch(f"{stem}_{OURS}") as database:
                run_ours(opts, here / OURS, run, database, flows=number == 1 and opts.wants(FLOW))
            with postgres.scratch(f"{stem}_{DURABLE}") as database:
                run_peer(opts, here / DURABLE, run, database)
            run_peer(opts, here, run, None)


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so every server is stopped on the way out


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    runs: list[RoundRun] = []
    status = 0
    try:
        peer_provider.install(log)
        with tempfile.TemporaryDirectory(prefix="idp-compare-") as tmp:
            run_rounds(opts, Path(tmp), runs)
    except (ServerError, BenchError, HTTPError, OSError) as exc:
        log(f"failed: {type(exc).__name__}: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped, scratch databases dropped")
        status = 130
    complete = (
        status == 0
        and len(runs) == opts.rounds
        and all(set(r.targets) == {OURS, DURABLE, MEMORY} for r in runs)
    )
    if runs:
        report = compare_report.Report(opts, runs, complete, OUR_WORKERS, PEER_WORKERS)
        print(report.render())
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        opts.output.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        log(f"wrote {opts.output}")
    if status == 0 and any(t.failed() for r in runs for t in r.targets.values()):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
