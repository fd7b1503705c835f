"""The load benchmark's own arithmetic: the flow's CPU is set against the hash's CPU (not its
wall time), a figure that cannot be true fails, and the self-check names what is inconsistent."""

from __future__ import annotations

import os

from bench import run
from bench.floors import Timing
from bench.load import PhaseResult


def _flow(cpu_ms_per_flow: float, flows: int = 100, window_s: float = 10.0) -> PhaseResult:
    return PhaseResult(
        name="sign-in flow",
        unit="flow",
        concurrency=8,
        window_s=window_s,
        completed=flows,
        errors=0,
        error_kinds={},
        latencies_s=[0.1] * flows,
        server_cpu_s=cpu_ms_per_flow * flows / 1000,
        loadgen_cpu_s=0.5,
        machine_busy_s=0.0,
        worker_restarts=0,
    )


def _results(flow: PhaseResult, hash_wall_ms: float, hash_cpu_ms: float) -> run.Results:
    results = run.Results(options=run.parse_args(["--quick"]))
    results.phases[flow.name] = flow
    results.floors["password_hash"] = Timing(0.030, 0.029, 20, 0.030)
    # Both cores hashing: each hash waits for memory, so its wall time grows more than its CPU.
    results.floors["password_hash_2_at_once"] = Timing(
        hash_wall_ms / 1000, hash_wall_ms / 1000, 40, hash_cpu_ms / 1000
    )
    return results


def _row(results: run.Results, figure: str) -> dict:
    (row,) = [c for c in run.comparisons(results) if c["figure"] == figure]
    return row


def test_cpu_per_flow_minus_the_hash_subtracts_cpu_from_cpu():
    # 45 ms of server CPU a flow; a hash takes 60 ms of wall time but 38 ms of CPU.
    results = _results(_flow(45.0), hash_wall_ms=60.0, hash_cpu_ms=38.0)
    row = _row(results, "server CPU ms/flow minus hash")
    assert row["value"] == 45.0 - 38.0
    assert row["ok"] is True
    assert run.self_check(results) == []


def test_a_flow_cheaper_than_its_hash_is_a_measuring_error_not_a_pass():
    results = _results(_flow(30.0), hash_wall_ms=60.0, hash_cpu_ms=38.0)
    row = _row(results, "server CPU ms/flow minus hash")
    assert row["value"] < 0 and row["ok"] is False
    (problem,) = run.self_check(results)
    assert "less than the 38.0 ms of its password hash" in problem
    assert "self-check: FAIL" in run.render(results)


def test_more_cpu_than_the_machine_has_is_reported():
    cores = os.cpu_count() or 2
    # Each flow 45 ms of CPU, 100 flows a second: 4.5 cores' worth, on a machine of fewer.
    flow = _flow(45.0, flows=100 * 10, window_s=10.0 * cores / 5)
    problems = run.self_check(_results(flow, hash_wall_ms=60.0, hash_cpu_ms=38.0))
    assert any("cores of" in p for p in problems)


def test_a_hash_using_more_cpu_than_its_time_allows_is_reported():
    results = _results(_flow(45.0), hash_wall_ms=20.0, hash_cpu_ms=38.0)
    assert any("password_hash_2_at_once" in p for p in run.self_check(results))
