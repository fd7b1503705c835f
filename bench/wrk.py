"""Request phases driven by wrk, when it is installed (Debian: ``apt-get install wrk``).

wrk is written in C: it spends about a tenth of the CPU per request that the asyncio load
generator does, which leaves more of the two shared cores to the server. Each wrk thread owns
one connection, so per-connection state works: the userinfo phase gives each thread its own
access token, and the refresh phase keeps one token chain per thread, always sending the
refresh token from that thread's previous answer (a rotated token replayed would revoke its
whole family). Sign-in flows (cookies, a CSRF token, a form) stay with the asyncio generator.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import PhaseResult
from bench.server import Snapshot

WRK = shutil.which("wrk")

# Every thread counts answers that are not 200 (wrk itself counts only 4xx and 5xx), and the
# main thread prints the results once every thread has finished.
_COMMON = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
not_ok = 0
function count(status)
  if status ~= 200 then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local e, bad = summary.errors, 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("not_ok") end
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, bad, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

_GET = r"""
wrk.path = PATH
function response(status, headers, body) count(status) end
"""

# The same form POST on every request (a client_credentials grant): wrk's own static request.
_POST = r"""
wrk.method = "POST"
wrk.path = PATH
wrk.body = BODY
wrk.headers["Authorization"] = AUTH
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
function response(status, headers, body) count(status) end
"""

# Gives each thread its own line of a file (a token), as the global ``token``.
_PER_THREAD = r"""
function init(args)
  local n = 0
  for line in io.lines(TOKENS) do
    n = n + 1
    if n == id then token = line end
  end
end
"""

_BEARER = r"""
function request()
  return wrk.format("GET", PATH, {["Authorization"] = "Bearer " .. token})
end
function response(status, headers, body) count(status) end
"""

_REFRESH = r"""
function request()
  return wrk.format("POST", PATH, {
    ["Authorization"] = AUTH,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  count(status)
  if status == 200 then
    local next_token = string.match(body, '"refresh_token":%s*"([^"]+)"')
    if next_token then token = next_token end
  end
end
"""


@dataclass(frozen=True)
class WrkPhase:
    """What wrk should send: a static GET, a static form POST, a GET with a per-thread bearer
    token, or a per-thread refresh chain."""

    path: str
    kind: str = "get"  # "get" | "post" | "bearer" | "refresh"
    tokens: tuple[str, ...] = ()
    authorization: str = ""
    body: str = ""  # the form body of a "post"

    def script(self, tokens_file: Path) -> str:
        header = f"PATH = {json.dumps(self.path)}\nTOKENS = {json.dumps(str(tokens_file))}\n"
        header += f"AUTH = {json.dumps(self.authorization)}\nBODY = {json.dumps(self.body)}\n"
        body = {
            "get": _GET,
            "post": _POST,
            "bearer": _PER_THREAD + _BEARER,
            "refresh": _PER_THREAD + _REFRESH,
        }
        return header + _COMMON + body[self.kind]


def available() -> bool:
    return WRK is not None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    url: str, phase: WrkPhase, connections: int, seconds: float, timeout: float
) -> dict[str, int]:
    assert WRK is not None
    if phase.kind in ("bearer", "refresh") and len(phase.tokens) < connections:
        raise ValueError(f"{phase.path}: {connections} connections need as many tokens")
    with tempfile.TemporaryDirectory(prefix="idp-wrk-") as tmp:
        tokens_file = Path(tmp) / "tokens"
        tokens_file.write_text("\n".join(phase.tokens[:connections]) + "\n")
        script = Path(tmp) / "phase.lua"
        script.write_text(phase.script(tokens_file))
        argv = [
            WRK,
            "-t",
            str(connections),
            "-c",
            str(connections),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            f"{timeout:g}s",
            "-s",
            str(script),
            url,
        ]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout + 30)
    for line in out.stdout.splitlines():
        if line.startswith("WRK-RESULT "):
            result: dict[str, int] = json.loads(line.removeprefix("WRK-RESULT "))
            return result
    raise RuntimeError(f"wrk printed no result: {out.stdout[-300:]} {out.stderr[-300:]}")


def run_phase(
    name: str,
    url: str,
    phase: WrkPhase,
    concurrency: int,
    *,
    warmup: float,
    duration: float,
    timeout: float,
    snapshot: Callable[[], Snapshot],
    warmup_phase: WrkPhase | None = None,
) -> PhaseResult:
    """A warm-up run, then the measured run, with the CPU clocks read around it. The load
    generator's CPU is wrk's (a child process), read from this process's children usage.

    A refresh chain is used up once it has run, so refresh phases warm up on a second set of
    chains (``warmup_phase``) and every measured chain starts unused."""
    warm = warmup_phase or phase
    if warm.kind == "refresh" and warm is phase:
        raise ValueError("refresh chains cannot be warmed up and reused: pass warmup_phase")
    if warmup >= 1:
        _run(url, warm, concurrency, warmup, timeout)
    start, children_before = snapshot(), _children_cpu()
    result = _run(url, phase, concurrency, duration, timeout)
    end, children_after = snapshot(), _children_cpu()
    return _result(name, concurrency, result, start, end, children_after - children_before)


def _result(
    name: str, concurrency: int, r: dict[str, int], start: Snapshot, end: Snapshot, wrk_cpu: float
) -> PhaseResult:
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    return PhaseResult(
        name=name,
        unit="req",
        concurrency=concurrency,
        window_s=r["duration_us"] / 1e6,
        completed=r["requests"] - r["status"],  # status: answers other than 200
        errors=sum(errors.values()),
        error_kinds={f"wrk {k} errors": v for k, v in errors.items()},
        latencies_s=[],
        latency_quantiles_ms={
            50: r["p50"] / 1000,
            90: r["p90"] / 1000,
            99: r["p99"] / 1000,
            100: r["max"] / 1000,
        },
        server_cpu_s=end.server_cpu - start.server_cpu,
        loadgen_cpu_s=wrk_cpu + end.loadgen_cpu - start.loadgen_cpu,
        machine_busy_s=end.machine_busy - start.machine_busy,
        worker_restarts=len(set(end.worker_pids) - set(start.worker_pids)),
        database_cpu_s=end.database_cpu - start.database_cpu,
    )
