"""The serving-stack benchmark's arithmetic and report (bench/stacks.py) on made-up rounds:
medians over rounds, keep-alive read from the connections opened, busy rounds flagged, the
order of the stacks moved each round, and figures that cannot be true caught."""

from __future__ import annotations

from bench import stacks
from bench.load import PhaseResult


def _phase(
    name: str, rate: float, cpu_ms: float, other_cores: float = 0.0, window_s: float = 10.0
) -> PhaseResult:
    done = int(rate * window_s)
    return PhaseResult(
        name=name,
        unit="req",
        concurrency=32,
        window_s=window_s,
        completed=done,
        errors=0,
        error_kinds={},
        latencies_s=[0.001 * (i % 100 + 1) for i in range(done)],
        server_cpu_s=cpu_ms * done / 1000,
        loadgen_cpu_s=0.1 * window_s,
        machine_busy_s=cpu_ms * done / 1000 + 0.1 * window_s + other_cores * window_s,
        worker_restarts=0,
    )


def _round(
    stack: str, rnd: int, rate: float, per_request: float, idle: float = 0.0, other: float = 0.0
) -> stacks.StackRound:
    """One stack's discovery phase; ``per_request``: connections opened per request."""
    done = stacks.StackRound(stack, rnd, 1, idle)
    phase = _phase("discovery", rate, cpu_ms=0.1, other_cores=other)
    done.phases["discovery"] = phase
    done.connections["discovery"] = round(phase.completed * per_request)
    done.worker_rss_mib = [150.0, 152.0]
    done.worker_pss_mib = [80.0, 82.0]
    done.master_pss_mib = 140.0
    return done


def _options() -> stacks.Options:
    # Options of a run without granian, so the tests need only the test extras; the figures
    # below are made up and name every stack.
    return stacks.parse_args(["--quick", "--stacks", "sync,buffering,gthread"])


def test_figures_are_medians_over_the_rounds_and_keep_alive_is_what_the_client_saw():
    rounds = [
        _round("sync", 1, 1000.0, per_request=1.0),
        _round("sync", 2, 3500.0, per_request=1.0),
        _round("sync", 3, 2000.0, per_request=1.0),
        _round("granian", 1, 9500.0, per_request=32 / 95000),
        _round("granian", 2, 7000.0, per_request=32 / 70000),
        _round("granian", 3, 8000.0, per_request=32 / 80000),
    ]
    sync = stacks.summarise(rounds, "sync", "discovery")
    granian = stacks.summarise(rounds, "granian", "discovery")
    assert sync is not None and granian is not None
    assert (sync.rate, granian.rate) == (2000.0, 8000.0)
    assert sync.cpu_ms_per_op == granian.cpu_ms_per_op == 0.1
    assert (sync.keep_alive, granian.keep_alive) == (False, True)
    assert sync.connections_per_op == 1.0
    memory = stacks.memory(rounds, "sync")
    assert memory["rss_per_worker_mib"] == 151.0
    assert memory["pss_total_mib"] == 140.0 + 80.0 + 82.0
    assert stacks.self_check(rounds) == []
    report = stacks.render(rounds, _options())
    assert "self-check: the figures are consistent" in report
    (sync_line,) = [s for s in report.splitlines() if s.startswith("sync ") and "discovery" in s]
    assert "2,000.0" in sync_line and " no " in sync_line


def test_a_round_is_busy_when_other_programs_ran_before_or_during_it():
    quiet = _round("gthread", 1, 5000.0, 0.01)
    busy_before = _round("gthread", 2, 4000.0, 0.01, idle=0.6)
    busy_during = _round("gthread", 3, 3000.0, 0.01, other=0.9)
    assert (quiet.busy, busy_before.busy, busy_during.busy) == (False, True, True)
    assert round(busy_during.other_cores, 6) == 0.9
    summary = stacks.summarise([quiet, busy_before, busy_during], "gthread", "discovery")
    assert summary is not None and summary.busy_rounds == 2
    report = stacks.render([quiet, busy_before, busy_during], _options())
    assert len([line for line in report.splitlines() if "gthread" in line and "BUSY" in line]) == 2


def test_every_stack_takes_every_place_in_the_order_over_as_many_rounds():
    keys = tuple(stacks.STACKS)
    orders = [stacks.order(keys, rnd) for rnd in range(1, len(keys) + 1)]
    assert all(sorted(o) == sorted(keys) for o in orders)
    for place in range(len(keys)):
        assert sorted(o[place] for o in orders) == sorted(keys)


def test_more_cpu_than_the_machine_has_fails_the_self_check():
    done = _round("buffering", 1, 1000.0, 0.01)
    # 4 ms of server CPU a request at 1,000 a second: four cores' worth.
    done.phases["discovery"] = _phase("discovery", 1000.0, cpu_ms=stacks.CORES * 2.5)
    problems = stacks.self_check([done])
    assert problems and "more CPU than" in problems[0]
    assert "self-check: FAIL" in stacks.render([done], _options())


def test_memory_and_thread_counts_are_read_from_proc_lines():
    status = "Name:\tpython\nThreads:\t4\nVmRSS:\t  153600 kB\n"
    assert stacks.proc_field(status, "VmRSS") == 153600
    assert stacks.proc_field(status, "Threads") == 4
    assert stacks.proc_field(status, "Pss") == 0


def test_each_stack_serves_the_same_app_with_its_own_server():
    for key, stack in stacks.STACKS.items():
        argv = stack.argv(8000, workers=3)
        assert argv[-1] == "idp.wsgi:app"
        assert argv[argv.index("--workers") + 1] == "3"
        assert ("granian" in argv) == (key == "granian")
    sync = stacks.STACKS["sync"].argv(8000)
    # gunicorn turns a synchronous worker with threads into gthread: one thread keeps it sync.
    assert sync[sync.index("--threads") + 1] == "1"


def test_connections_not_kept_by_a_stack_that_keeps_them_fail_the_self_check():
    # The buffering worker keeps connections alive: one opened per request means the load
    # generator (or the server) did not reuse them, and the figures are not what they claim.
    rounds = [_round("buffering", rnd, 2000.0, per_request=1.0) for rnd in (1, 2, 3)]
    (problem,) = stacks.self_check(rounds)
    assert "buffering discovery: 1.000 connections per operation" in problem
