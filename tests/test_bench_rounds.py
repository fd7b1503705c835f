"""The comparison's arithmetic over rounds (bench/rounds.py), on made-up results: ratios of
our rate to each reference's, their median and spread, CPU per request, busy rounds left out
of the medians, and the targets' verdicts, which must be able to fail."""

from __future__ import annotations

import pytest

from bench import compare, compare_report, rounds
from bench.load import PhaseResult
from bench.rounds import DURABLE, MEMORY, OURS, Round, Spread

WINDOW_S = 10.0


def _phase(
    name: str,
    rate: float,
    *,
    p99_ms: float = 20.0,
    server_cpu_ms: float = 1.0,
    database_cpu_ms: float = 0.0,
    other_cores: float = 0.0,
    errors: int = 0,
) -> PhaseResult:
    completed = int(rate * WINDOW_S)
    server_s = server_cpu_ms * completed / 1000
    database_s = database_cpu_ms * completed / 1000
    loadgen_s = 2.0
    return PhaseResult(
        name=name,
        unit="req",
        concurrency=32,
        window_s=WINDOW_S,
        completed=completed,
        errors=errors,
        error_kinds={},
        latencies_s=[],
        latency_quantiles_ms={50: p99_ms / 2, 90: p99_ms / 1.5, 99: p99_ms, 100: p99_ms * 2},
        server_cpu_s=server_s,
        loadgen_cpu_s=loadgen_s,
        # The machine's busy time is everything accounted for plus the neighbours'.
        machine_busy_s=server_s + database_s + loadgen_s + other_cores * WINDOW_S,
        worker_restarts=0,
        database_cpu_s=database_s,
    )


def _round(
    number: int,
    rates: dict[str, dict[str, float]],
    *,
    other_cores: float = 0.0,
    idle_before: float = 0.0,
    **figures: float,
) -> Round:
    """rates: side -> phase -> req/s."""
    return Round(
        number,
        {
            side: {
                phase: _phase(phase, rate, other_cores=other_cores, **figures)
                for phase, rate in by_phase.items()
            }
            for side, by_phase in rates.items()
        },
        idle_before,
    )


def _rates(ours: float, durable: float, memory: float, phase: str = "refresh") -> dict:
    return {OURS: {phase: ours}, DURABLE: {phase: durable}, MEMORY: {phase: memory}}


def test_ratios_have_their_median_and_spread_over_the_rounds():
    runs = [
        _round(1, _rates(300, 150, 600)),  # 2.0, 0.5
        _round(2, _rates(220, 200, 800)),  # 1.1, 0.275
        _round(3, _rates(400, 250, 500)),  # 1.6, 0.8
    ]
    summary = rounds.summarise(runs, "refresh")
    assert summary.counted == [1, 2, 3]
    # Each round's ratio, then their median: not the ratio of the medians (300 / 200 = 1.5),
    # since a round's sides ran minutes apart at most, and the rounds maybe much further.
    assert summary.ratios[DURABLE] == Spread(median=1.6, low=1.1, high=2.0, n=3)
    assert summary.ratios[MEMORY] == Spread(median=0.5, low=0.275, high=0.8, n=3)
    rate = summary.rate[MEMORY]
    assert rate is not None and (rate.median, rate.low, rate.high, rate.n) == (600, 500, 800, 3)


def test_an_even_number_of_rounds_takes_the_middle_two():
    runs = [_round(n, _rates(ours, 100, 100)) for n, ours in enumerate((90, 110, 130, 150), 1)]
    spread = rounds.summarise(runs, "refresh").ratios[DURABLE]
    assert spread is not None
    assert spread.median == pytest.approx(1.2)
    assert (spread.low, spread.high) == (pytest.approx(0.9), pytest.approx(1.5))


def test_cpu_per_request_is_each_sides_own():
    runs = [
        _round(1, _rates(100, 100, 100), server_cpu_ms=4.0, database_cpu_ms=0.5),
        _round(2, _rates(100, 100, 100), server_cpu_ms=6.0, database_cpu_ms=1.5),
        _round(3, _rates(100, 100, 100), server_cpu_ms=5.0, database_cpu_ms=1.0),
    ]
    summary = rounds.summarise(runs, "refresh")
    server, database = summary.server_cpu_ms[OURS], summary.database_cpu_ms[DURABLE]
    assert server is not None and database is not None
    assert (server.median, server.low, server.high) == pytest.approx((5.0, 4.0, 6.0))
    assert (database.median, database.low, database.high) == pytest.approx((1.0, 0.5, 1.5))


def test_the_database_cpu_is_not_counted_as_a_neighbours():
    # 3 ms of database CPU per request at 100 req/s: 0.3 cores, above the threshold if it
    # were taken for another program's.
    r = _round(1, _rates(100, 100, 100), database_cpu_ms=3.0, other_cores=0.05)
    assert r.neighbours() == pytest.approx(0.05)
    assert not r.busy()


def test_a_busy_round_is_left_out_of_the_medians_and_said_so():
    runs = [
        _round(1, _rates(300, 200, 600)),
        _round(2, _rates(100, 200, 600), other_cores=0.6),  # would drag the median down
        _round(3, _rates(260, 200, 600)),
    ]
    summary = rounds.summarise(runs, "refresh")
    assert summary.counted == [1, 3]
    assert summary.ratios[DURABLE] == Spread(median=1.4, low=1.3, high=1.5, n=2)
    assert "busy" in summary.skipped[2] and "0.60" in summary.skipped[2]
    assert rounds.left_out(runs) == {2: summary.skipped[2]}


def test_a_round_busy_before_it_started_is_left_out_too():
    runs = [_round(1, _rates(300, 200, 600), idle_before=0.4), _round(2, _rates(260, 200, 600))]
    assert rounds.summarise(runs, "refresh").counted == [2]


def test_the_threshold_is_a_strict_bound():
    at = _round(1, _rates(100, 100, 100), other_cores=0.25)
    above = _round(2, _rates(100, 100, 100), other_cores=0.26)
    assert not at.busy(0.25) and above.busy(0.25)


def test_a_phase_that_failed_on_one_side_is_left_out_of_that_phase_only():
    good = {OURS: 100.0, DURABLE: 100.0, MEMORY: 100.0}
    runs = [
        _round(1, {s: {"refresh": 120.0, "jwks": good[s]} for s in good}),
        _round(2, {s: {"refresh": 100.0, "jwks": good[s]} for s in good}),
    ]
    runs[1].sides[DURABLE]["refresh"].errors = 3
    refresh = rounds.summarise(runs, "refresh")
    assert refresh.counted == [1] and "durable" in refresh.skipped[2]
    assert rounds.summarise(runs, "jwks").counted == [1, 2]


def test_every_round_busy_gives_no_figure_and_no_verdict():
    runs = [_round(n, _rates(300, 200, 600), other_cores=1.0) for n in (1, 2, 3)]
    summaries = {"refresh": rounds.summarise(runs, "refresh")}
    assert summaries["refresh"].ratios[DURABLE] is None
    assert {v.status for v in rounds.verdicts(summaries, 32)} == {"NO VERDICT"}


def _verdicts(refresh: tuple[float, float], cc: tuple[float, float], p99_ms: float) -> dict:
    runs = [
        _round(
            n,
            {
                OURS: {"refresh": refresh[0], "client credentials": cc[0]},
                DURABLE: {"refresh": refresh[1], "client credentials": cc[1]},
                MEMORY: {"refresh": 1000.0, "client credentials": 1000.0},
            },
            p99_ms=p99_ms,
        )
        for n in (1, 2, 3)
    ]
    summaries = {p: rounds.summarise(runs, p) for p in ("refresh", "client credentials")}
    return {v.figure.split(",")[0] + (" p99" if "p99" in v.figure else ""): v.status
            for v in rounds.verdicts(summaries, 32)}  # fmt: skip


def test_the_targets_pass_at_their_bounds():
    assert _verdicts((200, 200), (60, 100), 49.0) == {
        "refresh req/s": "PASS",
        "refresh p99 ms p99": "PASS",
        "client_credentials req/s": "PASS",
    }


def test_the_targets_fail_below_them():
    assert _verdicts((199, 200), (59, 100), 50.0) == {
        "refresh req/s": "FAIL",
        "refresh p99 ms p99": "FAIL",
        "client_credentials req/s": "FAIL",
    }


def test_the_p99_target_is_judged_only_at_32_connections():
    runs = [_round(1, _rates(300, 200, 600), p99_ms=10.0)]
    summaries = {"refresh": rounds.summarise(runs, "refresh")}
    (p99,) = [v for v in rounds.verdicts(summaries, 64) if "p99" in v.figure]
    assert p99.status == "NO VERDICT" and "64" in p99.note


def _report(runs: list[Round]) -> compare_report.Report:
    opts = compare.parse_args(["--rounds", str(len(runs)), "--loadgen", "asyncio"])
    done = []
    for r in runs:
        run = compare.RoundRun(Round(r.number, idle_before=r.idle_before))
        for side, phases in r.sides.items():
            target = compare.Target(side, None, None, {}, compare.Results(opts), f"the {side} side")
            target.results.phases.update(phases)
            run.add(target)
        done.append(run)
    return compare_report.Report(opts, done, True, 4, 2)


def test_the_report_flags_a_busy_round_and_gives_medians_of_the_others():
    def rates(ours: float) -> dict[str, dict[str, float]]:
        return {
            side: {"refresh": rate, "client credentials": rate}
            for side, rate in ((OURS, ours), (DURABLE, 200.0), (MEMORY, 600.0))
        }

    # Ours / durable: 0.75 and 0.85 in the quiet rounds; 2.0 in the busy one, which would
    # make the median 0.85 if it counted.
    runs = [_round(1, rates(150)), _round(2, rates(400), other_cores=0.8), _round(3, rates(170))]
    report = _report(runs)
    text = report.render()
    assert "BUSY: left out of the medians (busy: neighbours 0.80 cores > 0.25)" in text
    assert "left out of every median: round 2" in text
    assert "0.80 (0.75–0.85)" in text
    assert "FAIL" in next(line for line in text.splitlines() if line.startswith("refresh req/s,"))
    assert "PASS" in next(
        line for line in text.splitlines() if line.startswith("client_credentials req/s,")
    )
    data = report.to_json()
    assert [r["left_out"] is not None for r in data["rounds"]] == [False, True, False]
    assert data["phases"]["refresh"]["counted_rounds"] == [1, 3]
    assert data["phases"]["refresh"]["rate_ratio"]["durable"]["median"] == 0.8
