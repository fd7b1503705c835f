"""Real provider processes for the tests that need them: ``idp serve`` on a loopback port,
ready when it answers, stopped (then killed, if it must be) when the test is done."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests


def server_env(database_url: str, keys_dir: str, instance_dir: Path, **more: str) -> dict[str, str]:
    """The environment of an ``idp serve`` for a test: this one's, less any ``IDP_`` setting,
    with cheap hashing, no new-device codes, mail kept in the outbox and ``more`` on top."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_SECRET_KEY": secrets.token_urlsafe(40),
        "IDP_DATABASE_URL": database_url,
        "IDP_OIDC__KEYS_DIR": keys_dir,
        "IDP_INSTANCE_DIR": str(instance_dir),
        "IDP_ACCESS_LOG": "/dev/null",
        "IDP_TESTING": "true",
        "IDP_AUTH__ARGON2_MEMORY_COST": "1024",
        "IDP_AUTH__ARGON2_TIME_COST": "1",
        "IDP_AUTH__NEW_DEVICE_VERIFICATION": "never",
        "IDP_MAIL__BACKEND": "outbox",
        **more,
    }


def live_server_environment(
    base_overrides: dict[str, Any],
    smtp_server: tuple[str, int, Any],
    tmp_path_factory: pytest.TempPathFactory,
    port: int,
) -> dict[str, str]:
    """The environment of an ``idp serve`` on ``port``, on the tests' database, keys and SMTP
    server, where a new browser is asked for an emailed code."""
    return server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        tmp_path_factory.mktemp("live-instance"),
        IDP_OIDC__ISSUER=f"http://127.0.0.1:{port}",
        IDP_MAIL__BACKEND="smtp",
        IDP_MAIL__HOST=smtp_server[0],
        IDP_MAIL__PORT=str(smtp_server[1]),
        IDP_AUTH__NEW_DEVICE_VERIFICATION="new_device",
    )


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def serving(
    base_overrides: dict[str, Any], directory: Path, workers: int = 2, **env: str
) -> Iterator[tuple[int, str]]:
    """``idp serve`` on the tests' database and keys, on a free port, with ``workers`` workers
    and ``env`` on top; yields its port and base URL. Its output goes to
    ``directory/server.log``."""
    with serving_process(base_overrides, directory, workers, **env) as (port, base, _process):
        yield port, base


@contextmanager
def serving_process(
    base_overrides: dict[str, Any], directory: Path, workers: int = 2, **env: str
) -> Iterator[tuple[int, str, subprocess.Popen[bytes]]]:
    """:func:`serving`, also yielding the gunicorn master's process."""
    from tests.mailbox import free_port

    port = free_port()
    environment = server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        directory,
        IDP_OIDC__ISSUER=f"http://127.0.0.1:{port}",
        **env,
    )
    log = directory / "server.log"
    with idp_serve_process(environment, port, log, cwd=directory, workers=workers) as (
        base,
        process,
    ):
        yield port, base, process


@contextmanager
def idp_serve(env: dict[str, str], port: int, log: Path, **options: Any) -> Iterator[str]:
    """``idp serve`` with ``env`` on ``port``; yields its base URL once it answers
    (``options``: those of :func:`idp_serve_process`)."""
    with idp_serve_process(env, port, log, **options) as (base, _process):
        yield base


@contextmanager
def idp_serve_process(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    cwd: Path,
    workers: int = 1,
    ready_path: str = "/.well-known/openid-configuration",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``idp serve`` with ``env`` on ``port``; once ``ready_path`` answers, yields its base URL
    and the gunicorn master's process (its workers are its children: :func:`children`)."""
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "idp.cli", "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)]
    if CANDIDATE_STACK:
        command, env = candidate(CANDIDATE_STACK, port, workers, env, cwd)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
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
        yield base, process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Asks ``process`` to stop, kills it if it has not within 15 s, and reaps it either way
    (a process left unreaped is a warning that fails whichever test the collector runs in)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


# The tests that run real servers run ``idp serve``; TEST_SERVING_STACK=sync|gthread|granian runs
# them against another serving stack of bench/stacks.py instead (its production check).
CANDIDATE_STACK = os.environ.get("TEST_SERVING_STACK", "")


def candidate(
    key: str, port: int, workers: int, env: dict[str, str], cwd: Path
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the candidate stack ``key`` on ``port``: granian
    gets a fresh Prometheus directory, as idp/gunicorn_conf.py makes one for gunicorn."""
    from bench.stacks import STACKS

    stack = STACKS[key]
    if key == "granian":
        metrics = cwd / f"metrics-{port}"
        metrics.mkdir(exist_ok=True)
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    return stack.argv(port, workers), env


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


class PrivateRedis:
    """A Redis of the test's own on ``port``, keeping nothing on disk, that the test may stop
    and start again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in ``directory``, trust auth, loopback
    ``port``), so that a test may stop and restart the server under a running provider
    without touching the machine's shared one. As root, the server runs as ``postgres``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        binaries = Path("/usr/lib/postgresql")
        found = sorted(binaries.glob("*/bin/pg_ctl")) if binaries.exists() else []
        pg_ctl = found[-1] if found else shutil.which("pg_ctl")
        self.bin = Path(pg_ctl).parent if pg_ctl else None

    def available(self) -> bool:
        return self.bin is not None and (self.bin / "initdb").exists()

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=60, cwd="/")

    def init(self) -> None:
        assert self.bin is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data = str(self.directory / "data")
        self._run(str(self.bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-N")

    def start(self) -> None:
        assert self.bin is not None
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        assert self.bin is not None
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-m",
            "fast",
            "-w",
            "stop",
        )


def _wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
