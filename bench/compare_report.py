"""What ``bench/compare.py`` prints and writes: the rounds, each phase's ratios over them
(bench/rounds.py does the arithmetic), the verdicts, and each side's detailed tables."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bench import peer_provider, rounds
from bench.rounds import DURABLE, MEMORY, OURS, REFERENCES, SIDES, Spread
from bench.run import comparisons, fmt, git_revision, phase_table, table

if TYPE_CHECKING:  # compare.py imports this module
    from bench.compare import CompareOptions, RoundRun

PHASES = ("discovery", "jwks", "userinfo", "refresh", "client credentials")
LABEL = {OURS: "ours", DURABLE: "durable", MEMORY: "memory"}


def spread(s: Spread | None, digits: int = 2) -> str:
    """``median (min–max)``, or ``-`` when no round counts."""
    if s is None:
        return "-"
    if s.n == 1:
        return fmt(s.median, digits)
    return f"{fmt(s.median, digits)} ({fmt(s.low, digits)}–{fmt(s.high, digits)})"


def medians(by_side: dict[str, Spread | None], sides: tuple[str, ...], digits: int) -> str:
    return " / ".join(fmt(s.median, digits) if s else "-" for s in (by_side[x] for x in sides))


class Report:
    def __init__(
        self,
        opts: CompareOptions,
        runs: list[RoundRun],
        complete: bool,
        our_workers: int,
        peer_workers: int,
    ):
        self.opts = opts
        self.runs = runs
        self.complete = complete
        self.our_workers = our_workers
        self.peer_workers = peer_workers
        self.rounds = [run.round for run in runs]
        self.left_out = rounds.left_out(self.rounds, opts.busy_cores)
        self.summaries = {p: rounds.summarise(self.rounds, p, opts.busy_cores) for p in PHASES}
        self.verdicts = rounds.verdicts(self.summaries, opts.concurrency)

    # -- text ---------------------------------------------------------------------------

    def render(self) -> str:
        opts = self.opts
        out = [
            f"side by side, {os.cpu_count()} cores, {opts.concurrency} connections, "
            f"{opts.warmup:g} s warm-up + {opts.duration:g} s measured per phase, load "
            f"generator {'wrk' if opts.use_wrk else 'asyncio'}; {len(self.runs)} of "
            f"{opts.rounds} rounds, each: ours, durable, memory"
        ]
        first = self.runs[0].targets
        for side in SIDES:
            if side in first:
                out.append(f"  {LABEL[side]}: {first[side].description}")
        if not self.complete:
            out.append("INCOMPLETE RUN: partial results")
        out += ["", *self._rounds_table(), "", *self._per_round_table()]
        out += ["", *self._medians_table(), "", *self._verdicts_table()]
        out += self._flows()
        for run in self.runs:
            for side in SIDES:
                target = run.targets.get(side)
                if target is not None and target.results.phases:
                    phases = list(target.results.phases.values())
                    title = f"round {run.round.number}, {LABEL[side]}, in detail:"
                    out += ["", title, *phase_table(phases)]
        for run in self.runs:
            for target in run.targets.values():
                for name in target.failed():
                    out.append(
                        f"FAILED: round {run.round.number} {target.name} {name}: errors, "
                        "figures not to be used"
                    )
        return "\n".join(out)

    def _rounds_table(self) -> list[str]:
        rows = []
        for r in self.rounds:
            why = self.left_out.get(r.number)
            rows.append(
                [
                    str(r.number),
                    fmt(r.idle_before if r.idle_before is not None else float("nan"), 2),
                    fmt(r.neighbours(), 2),
                    f"BUSY: left out of the medians ({why})" if why else "counted",
                ]
            )
        return [
            table(["round", "cores busy before", "neighbours (max)", "status"], rows),
            "(neighbours: CPU, in cores, used outside the servers, their PostgreSQL backends and "
            "the load generator: the quiet second before the round or its busiest phase; above "
            f"{self.opts.busy_cores:g} the round is busy)",
        ]

    def _per_round_table(self) -> list[str]:
        rows = []
        for phase in PHASES:
            summary = self.summaries[phase]
            for r in self.rounds:
                found = {s: r.sides.get(s, {}).get(phase) for s in SIDES}
                if not any(found.values()):
                    continue
                rows.append(
                    [
                        phase,
                        str(r.number),
                        *(fmt(p.rate) if p else "-" for p in found.values()),
                        *(fmt(r.ratio(phase, ref), 2) for ref in REFERENCES),
                        " / ".join(fmt(p.latency_ms(99), 1) if p else "-" for p in found.values()),
                        fmt(max((p.other_cores for p in found.values() if p), default=0.0), 2),
                        "" if r.number in summary.counted else summary.skipped[r.number],
                    ]
                )
        headers = [
            "phase",
            "round",
            "ours req/s",
            "durable req/s",
            "memory req/s",
            "ours/durable",
            "ours/memory",
            "p99 ms ours / durable / memory",
            "neighbours",
            "left out",
        ]
        return ["each round:", table(headers, rows)]

    def _medians_table(self) -> list[str]:
        ratio_rows, cpu_rows = [], []
        for phase in PHASES:
            s = self.summaries[phase]
            counted = ", ".join(map(str, s.counted)) or "none"
            ratio_rows.append(
                [
                    phase,
                    spread(s.ratios[DURABLE]),
                    spread(s.ratios[MEMORY]),
                    medians(s.rate, SIDES, 1),
                    medians(s.p99_ms, SIDES, 1),
                    counted,
                ]
            )
            cpu_rows.append(
                [
                    phase,
                    medians(s.server_cpu_ms, SIDES, 3),
                    medians(s.database_cpu_ms, (OURS, DURABLE), 3),
                    medians(s.total_cpu_ms, SIDES, 3),
                ]
            )
        out = [
            "over the rounds that count: median (min–max) of each round's ratio, and the "
            "medians of each side's figures",
        ]
        if self.left_out:
            out.append(
                "left out of every median: "
                + "; ".join(f"round {n} ({why})" for n, why in self.left_out.items())
            )
        out.append(
            table(
                [
                    "phase",
                    "req/s ours/durable",
                    "req/s ours/memory",
                    "req/s ours / durable / memory",
                    "p99 ms ours / durable / memory",
                    "rounds",
                ],
                ratio_rows,
            )
        )
        out += [
            "",
            table(
                [
                    "phase",
                    "server CPU ms/req ours / durable / memory",
                    "PostgreSQL CPU ms/req ours / durable",
                    "both ours / durable / memory",
                ],
                cpu_rows,
            ),
            "(server CPU: gunicorn master and workers, or node primary and workers; PostgreSQL: "
            "the backends serving the side's scratch database; both: their sum in each round; "
            "medians)",
        ]
        return out

    def _verdicts_table(self) -> list[str]:
        rows = [
            [
                v.figure,
                "-" if v.value is None else fmt(v.value, 2),
                v.target,
                v.status + (f" ({v.note})" if v.note else ""),
            ]
            for v in self.verdicts
        ]
        return [
            "targets (judged on the medians over the rounds that count):",
            table(["figure", "median", "target", "verdict"], rows),
        ]

    def _flows(self) -> list[str]:
        ours = self.runs[0].targets.get(OURS)
        if ours is None:
            return []
        rows = [
            [c["figure"], fmt(c["value"], 2), c["floor"], fmt(c["floor_value"], 2)]
            + [fmt(c["ratio"], 2), c["target"] or "-"]
            for c in comparisons(ours.results)
            if c["figure"] == "sign-in flows/s"
        ]
        if not rows:
            return []
        return [
            "",
            "ours, round 1, sign-in flows against the password-hash floor (the references' are "
            "not measured: their development login checks no password):",
            table(["figure", "value", "floor", "floor value", "ratio", "target"], rows),
        ]

    # -- JSON ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        opts = self.opts
        first_ours = self.runs[0].targets.get(OURS)
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "complete": self.complete,
            "git_revision": git_revision(),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "settings": {
                "rounds": opts.rounds,
                "order": list(SIDES),
                "our_workers": self.our_workers,
                "peer": f"oidc-provider {peer_provider.pinned_version()}",
                "durable_peer_workers": self.peer_workers,
                "duration_s": opts.duration,
                "warmup_s": opts.warmup,
                "concurrency": opts.concurrency,
                "flow_concurrency": opts.flow_concurrency,
                "loadgen": "wrk" if opts.use_wrk else "asyncio",
                "busy_cores": opts.busy_cores,
            },
            "rounds": [
                {
                    "round": run.round.number,
                    "idle_busy_cores": run.round.idle_before,
                    "neighbours_cores": round(run.round.neighbours(), 3),
                    "left_out": self.left_out.get(run.round.number),
                    "sides": {name: _side(t) for name, t in run.targets.items()},
                }
                for run in self.runs
            ],
            "phases": {p: s.to_json() for p, s in self.summaries.items()},
            "verdicts": [
                {
                    "figure": v.figure,
                    "median": v.value,
                    "target": v.target,
                    "status": v.status,
                    "note": v.note,
                }
                for v in self.verdicts
            ],
            "sign_in_vs_hash_floor": [
                c
                for c in (comparisons(first_ours.results) if first_ours else [])
                if c["figure"] == "sign-in flows/s"
            ],
        }


def _side(t: Any) -> dict[str, Any]:
    return {
        "description": t.description,
        "checks": t.checks,
        "failed_phases": t.failed(),
        "floors": {name: f.to_json() for name, f in t.results.floors.items()},
        "phases": {name: r.to_json() for name, r in t.results.phases.items()},
    }
