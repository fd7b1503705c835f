"""Real provider processes for the tests that need them: ``idp serve`` on a loopback port,
ready when it answers, stopped (then killed, if it must be) when the test is done."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def idp_serve(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    cwd: Path,
    workers: int = 1,
    ready_path: str = "/.well-known/openid-configuration",
) -> Iterator[str]:
    """``idp serve`` with ``env`` on ``port``; yields its base URL once ``ready_path`` answers."""
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "idp.cli", "serve", "--bind", f"127.0.0.1:{port}"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + ready_path, timeout=1).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("idp serve did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
