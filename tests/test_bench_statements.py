"""bench/statements.py's verdicts, on samples made up for the purpose: a statement pays only
where it saves at least 1 % of what a client waits for (a grant; in a sign-in, the whole flow)
and was the faster in every round."""

from __future__ import annotations

from typing import Any

from bench.statements import Samples, report

ROUNDS = 3
REQUEST_US = {
    "POST /token refresh_token": 10_000,
    "GET /authorize": 10_000,
    "POST /login": 80_000,
    "GET /authorize/resume": 5_000,
    "POST /token authorization_code": 5_000,
}


def samples(
    prepared_us: float, session_us: float, runs_in: str, lost_round: int | None = None
) -> Samples:
    """Requests of the times above; statement S runs once in each request to ``runs_in``."""
    made = Samples()
    for mode, statement_us in (("prepared", prepared_us), ("session", session_us)):
        for n in range(ROUNDS):
            us = statement_us
            if mode == "prepared" and n == lost_round:
                us = session_us + 50  # the prepared statement lost this round
            for endpoint, request_us in REQUEST_US.items():
                for _ in range(5):
                    made.requests[(mode, endpoint)].append((n, request_us / 1e6))
                    if endpoint == runs_in:
                        made.calls[(mode, endpoint, "store.S")].append((n, us / 1e6))
    made.busy = [0.0] * ROUNDS
    return made


def row(**given: Any) -> dict[str, Any]:
    return report("made up", samples(**given), ROUNDS)["statements"]["store.S"]


def test_a_statement_saving_a_percent_of_a_grant_pays():
    found = row(prepared_us=100, session_us=250, runs_in="POST /token refresh_token")
    assert found["share"] == 0.015 and found["pays"]


def test_the_same_saving_in_a_sign_in_is_weighed_against_the_whole_flow():
    found = row(prepared_us=100, session_us=250, runs_in="GET /authorize")
    assert found["share_of"] == "sign-in flow"
    assert found["share"] == 0.0015 and not found["pays"]


def test_a_saving_under_a_percent_does_not_pay():
    found = row(prepared_us=100, session_us=180, runs_in="POST /token refresh_token")
    assert found["share"] == 0.008 and not found["pays"]


def test_a_statement_that_lost_a_round_does_not_pay():
    found = row(prepared_us=100, session_us=400, runs_in="POST /token refresh_token", lost_round=1)
    assert found["share"] == 0.03 and found["rounds_faster"] == 2 and not found["pays"]
