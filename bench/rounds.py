"""The arithmetic of ``bench/compare.py``'s rounds, apart from running them.

A round loads each side once, one after the other: ours, the durable reference (oidc-provider
on PostgreSQL), the in-memory reference. For each phase, a round gives the ratio of our rate to
each reference's; over the rounds that count, each ratio is summed up by its median and its
spread (lowest and highest), and so is each side's p99 and CPU per request.

A round counts unless other programs kept the machine busy during it: its "neighbours" figure
is the most CPU used outside the servers, their database backends and the load generator, in
the quiet second before the round or in any phase of any side, and a round above the
threshold is left out of every median (and said to be). A phase that failed on any side in a
round (an error, nothing completed) is left out of that phase's medians alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bench.load import PhaseResult

OURS = "ours"
DURABLE = "durable"
MEMORY = "memory"
REFERENCES = (DURABLE, MEMORY)
SIDES = (OURS, *REFERENCES)  # the order a round runs them in
BUSY_CORES = 0.25  # neighbours above this, in cores, and the round does not count

# Targets of the comparison (issue 23), against the durable reference.
REFRESH_RATIO_TARGET = 1.0
REFRESH_P99_TARGET_MS = 50.0
REFRESH_TARGET_CONCURRENCY = 32
CLIENT_CREDENTIALS_RATIO_TARGET = 0.6


def ratio(a: float, b: float) -> float:
    """a / b, or NaN when either is NaN or b is 0."""
    return a / b if b and a == a and b == b else float("nan")


@dataclass(frozen=True)
class Spread:
    """The median of some rounds' values, the lowest and the highest, and how many there were."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread | None:
        kept = [v for v in values if v == v]  # NaN: nothing to say
        if not kept:
            return None
        return cls(statistics.median(kept), min(kept), max(kept), len(kept))

    def to_json(self, digits: int = 3) -> dict[str, float | int]:
        return {
            "median": round(self.median, digits),
            "min": round(self.low, digits),
            "max": round(self.high, digits),
            "rounds": self.n,
        }


@dataclass
class Round:
    """One round: each side's phase results, and the machine's load just before it."""

    number: int
    sides: dict[str, dict[str, PhaseResult]] = field(default_factory=dict)
    idle_before: float | None = None  # busy cores in a quiet second before the round

    def neighbours(self) -> float:
        """The most CPU, in cores, that the round's own processes do not account for."""
        values = [r.other_cores for phases in self.sides.values() for r in phases.values()]
        if self.idle_before is not None:
            values.append(self.idle_before)
        return max(values, default=0.0)

    def busy(self, threshold: float = BUSY_CORES) -> bool:
        return self.neighbours() > threshold

    def failed(self, phase: str) -> list[str]:
        """The sides on which ``phase`` is missing, had an error or completed nothing."""
        failed = []
        for side in SIDES:
            r = self.sides.get(side, {}).get(phase)
            if r is None or r.errors or not r.completed:
                failed.append(side)
        return failed

    def ratio(self, phase: str, reference: str) -> float:
        """Our rate over the reference's in this round (NaN if either is missing)."""
        ours = self.sides.get(OURS, {}).get(phase)
        theirs = self.sides.get(reference, {}).get(phase)
        if ours is None or theirs is None:
            return float("nan")
        return ratio(ours.rate, theirs.rate)


def left_out(rounds: list[Round], threshold: float = BUSY_CORES) -> dict[int, str]:
    """The rounds left out of every median, by number, each with the reason."""
    return {
        r.number: f"busy: neighbours {r.neighbours():.2f} cores > {threshold:g}"
        for r in rounds
        if r.busy(threshold)
    }


@dataclass
class PhaseSummary:
    """One phase over the rounds that count for it."""

    phase: str
    counted: list[int]  # round numbers
    skipped: dict[int, str]  # round number -> why it was left out of this phase
    ratios: dict[str, Spread | None]  # reference -> ours' rate / the reference's
    rate: dict[str, Spread | None]  # side -> req/s
    p99_ms: dict[str, Spread | None]
    server_cpu_ms: dict[str, Spread | None]  # side -> server CPU per request
    database_cpu_ms: dict[str, Spread | None]  # side -> database backends' CPU per request
    total_cpu_ms: dict[str, Spread | None]  # side -> both, added up in each round

    def to_json(self) -> dict[str, object]:
        def spreads(by_side: dict[str, Spread | None]) -> dict[str, object]:
            return {k: v.to_json() if v else None for k, v in by_side.items()}

        return {
            "phase": self.phase,
            "counted_rounds": self.counted,
            "left_out": {str(k): v for k, v in self.skipped.items()},
            "rate_ratio": spreads(self.ratios),
            "rate_per_s": spreads(self.rate),
            "p99_ms": spreads(self.p99_ms),
            "server_cpu_ms_per_req": spreads(self.server_cpu_ms),
            "database_cpu_ms_per_req": spreads(self.database_cpu_ms),
            "total_cpu_ms_per_req": spreads(self.total_cpu_ms),
        }


def summarise(rounds: list[Round], phase: str, threshold: float = BUSY_CORES) -> PhaseSummary:
    skipped = dict(left_out(rounds, threshold))
    for r in rounds:
        if r.number not in skipped and (sides := r.failed(phase)):
            skipped[r.number] = f"failed on {', '.join(sides)}"
    counted = [r for r in rounds if r.number not in skipped]

    def over(figure: Callable[[PhaseResult], float]) -> dict[str, Spread | None]:
        return {side: Spread.of(figure(r.sides[side][phase]) for r in counted) for side in SIDES}

    return PhaseSummary(
        phase=phase,
        counted=[r.number for r in counted],
        skipped=dict(sorted(skipped.items())),
        ratios={ref: Spread.of(r.ratio(phase, ref) for r in counted) for ref in REFERENCES},
        rate=over(lambda p: p.rate),
        p99_ms=over(lambda p: p.latency_ms(99)),
        server_cpu_ms=over(lambda p: p.server_cpu_ms_per_op),
        database_cpu_ms=over(lambda p: p.database_cpu_ms_per_op),
        total_cpu_ms=over(lambda p: p.server_cpu_ms_per_op + p.database_cpu_ms_per_op),
    )


@dataclass(frozen=True)
class Verdict:
    """A target and what the counted rounds say of it: ``ok`` is None when they say nothing."""

    figure: str
    value: float | None
    target: str
    ok: bool | None
    note: str = ""

    @property
    def status(self) -> str:
        return "NO VERDICT" if self.ok is None else "PASS" if self.ok else "FAIL"


def verdicts(summaries: dict[str, PhaseSummary], concurrency: int) -> list[Verdict]:
    """The targets, each judged on the median over the rounds that count."""
    out = []
    refresh = summaries.get("refresh")
    spread = refresh.ratios[DURABLE] if refresh else None
    out.append(
        _at_least(
            "refresh req/s, ours / durable reference",
            spread,
            REFRESH_RATIO_TARGET,
        )
    )
    p99 = refresh.p99_ms[OURS] if refresh else None
    figure = f"refresh p99 ms, ours, at {REFRESH_TARGET_CONCURRENCY} connections"
    target = f"< {REFRESH_P99_TARGET_MS:g} ms"
    if concurrency != REFRESH_TARGET_CONCURRENCY:
        out.append(Verdict(figure, None, target, None, f"this run used {concurrency}"))
    elif p99 is None:
        out.append(Verdict(figure, None, target, None, "no round counts"))
    else:
        out.append(Verdict(figure, p99.median, target, p99.median < REFRESH_P99_TARGET_MS))
    cc = summaries.get("client credentials")
    out.append(
        _at_least(
            "client_credentials req/s, ours / durable reference",
            cc.ratios[DURABLE] if cc else None,
            CLIENT_CREDENTIALS_RATIO_TARGET,
        )
    )
    return out


def _at_least(figure: str, spread: Spread | None, target: float) -> Verdict:
    wanted = f">= {target:g}x"
    if spread is None:
        return Verdict(figure, None, wanted, None, "no round counts")
    return Verdict(figure, spread.median, wanted, spread.median >= target)
