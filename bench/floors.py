"""Cost floors measured in-process: what one password check and one ID-token signature cost.

They bound what the HTTP phases can reach: a sign-in flow verifies one password, so two cores
cannot complete more than ``2 / hash_seconds`` flows per second whatever else the code does,
where ``hash_seconds`` is what one hash takes while both cores hash at once.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from idp.config import AuthSettings


@dataclass(frozen=True)
class Timing:
    """Wall time of one operation (median, minimum) and the CPU time it used (median): on a
    busy machine the wall time grows while the CPU time stays what the work costs."""

    median_s: float
    min_s: float
    runs: int
    cpu_median_s: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "median_ms": round(self.median_s * 1000, 4),
            "min_ms": round(self.min_s * 1000, 4),
            "cpu_median_ms": round(self.cpu_median_s * 1000, 4),
            "runs": self.runs,
        }


def _samples(func: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``runs`` calls. CPU is the process's (every thread: an
    argon2 hash with parallelism > 1 runs several)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return wall, cpu


def _time(func: Callable[[], object], runs: int) -> Timing:
    func()  # warm caches and lazy imports
    wall, cpu = _samples(func, runs)
    return Timing(statistics.median(wall), min(wall), runs, statistics.median(cpu))


def cpu_probe(runs: int = 5) -> float:
    """Milliseconds for a fixed pure-Python loop, averaged over every CPU we may run on.

    A yardstick of the machine's speed at this moment: on a shared virtual machine the speed of
    a vCPU flips (this loop took 3.2 ms or 5.7 ms on the machine the benchmark was written on,
    changing within seconds), and every CPU-time figure moves with it. The loop runs pinned
    to each CPU in turn (median of ``runs``), then the process's CPU affinity is restored.
    """

    def loop() -> int:
        total = 0
        for i in range(100_000):
            total += i * i
        return total

    allowed = os.sched_getaffinity(0)
    medians = []
    try:
        for cpu in sorted(allowed):
            os.sched_setaffinity(0, {cpu})
            medians.append(_time(loop, runs).median_s * 1000)
    finally:
        os.sched_setaffinity(0, allowed)
    return statistics.fmean(medians)


def password_verify(auth: AuthSettings, runs: int = 20) -> Timing:
    """One argon2id verify of a correct password at the configured cost."""
    hasher = PasswordHasher(
        time_cost=auth.argon2_time_cost,
        memory_cost=auth.argon2_memory_cost,
        parallelism=auth.argon2_parallelism,
    )
    password = "correct horse battery staple"
    stored = hasher.hash(password)
    return _time(lambda: hasher.verify(stored, password), runs)


def _verify_loop(args: tuple[int, int, int, int]) -> tuple[list[float], list[float]]:
    time_cost, memory_cost, parallelism, runs = args
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    password = "correct horse battery staple"
    stored = hasher.hash(password)
    return _samples(lambda: hasher.verify(stored, password), runs)


def password_verify_concurrent(auth: AuthSettings, processes: int = 2, runs: int = 20) -> Timing:
    """One argon2id verify while ``processes`` processes verify at once, as both workers do
    under load. argon2id touches 19 MiB per hash, so concurrent hashes compete for caches and
    memory bandwidth and each takes longer than one alone: this is the honest floor for flows.
    """
    job = (auth.argon2_time_cost, auth.argon2_memory_cost, auth.argon2_parallelism, runs)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_verify_loop, [job] * processes)
    wall = [s for w, _ in results for s in w]
    cpu = [s for _, c in results for s in c]
    return Timing(statistics.median(wall), min(wall), len(wall), statistics.median(cpu))


def id_token_signature(
    pem_path: Path | None, kid: str, issuer: str, runs: int = 500, alg: str = "RS256"
) -> Timing:
    """One ``jwt.encode`` of an ID-token-sized payload with an already imported key: the
    server's RS256 key, or (ES256, ``pem_path`` None) a fresh P-256 key."""
    key = RSAKey.import_key(pem_path.read_bytes()) if pem_path else ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "u_8IfvIhMjIUTr_Ozh-sWh7Q",
        "aud": "zeNy-jB5VJO1h0QuSW09ArS_",
        "azp": "zeNy-jB5VJO1h0QuSW09ArS_",
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "amr": ["pwd"],
        "nonce": "Vq3Xb5hY0m9eK1pD",
        "at_hash": "b1Vj5WmXqT3d8hK0Zs9YtA",
        "sid": "k1Hq9Sx0Vb7T2mWn3Lp5Rz",
    }
    header = {"alg": alg, "kid": kid}
    return _time(lambda: jwt.encode(header, claims, key), runs)
