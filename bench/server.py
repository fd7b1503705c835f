"""Starting, watching and stopping the gunicorn servers under test, and seeding their database.

The servers run as the project serves them (``idp/gunicorn_conf.py``; access log
off) with two workers on a free loopback port, against a throw-away SQLite database and keys
directory. CPU time is read from ``/proc`` so that a phase can be charged for the work it caused.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project's own settings file; IDP_ACCESS_LOG="" below turns its access log off.
GUNICORN_CONF = REPO_ROOT / "idp" / "gunicorn_conf.py"
HOST = "127.0.0.1"
WORKERS = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")

BENCH_EMAIL = "bench@example.org"
BENCH_PASSWORD = "measured sign-in 0123"
REDIRECT_URI = "http://127.0.0.1:9/callback"
API_SCOPE = "organisations.read"  # what the client may ask for with client_credentials


class ServerError(Exception):
    """A server did not start, or seeding failed; the message carries the evidence."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def bench_environment(tmp: Path, port: int, database_url: str | None = None) -> dict[str, str]:
    """The process environment for the CLI and the server: only the benchmark's IDP_ settings.

    Inherited ``IDP_*`` variables are dropped so a developer's shell cannot change what is
    measured; ``IDP_CONFIG`` names an empty file so no ``config.toml`` is picked up either.
    """
    config_file = tmp / "config.toml"
    config_file.write_text("# intentionally empty: the benchmark configures through IDP_*\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    # Import the checkout this benchmark lives in, whatever the virtualenv has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(
        IDP_CONFIG=str(config_file),
        IDP_SECRET_KEY=secrets.token_urlsafe(48),
        IDP_DATABASE_URL=database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        IDP_OIDC__ISSUER=f"http://{HOST}:{port}",
        IDP_OIDC__KEYS_DIR=str(tmp / "keys"),
        IDP_INSTANCE_DIR=str(tmp / "instance"),
        IDP_RATE_LIMITS__ENABLED="false",
        # A flow is password sign-in + code + tokens: no emailed code, as on a known device.
        IDP_AUTH__NEW_DEVICE_VERIFICATION="never",
        IDP_ACCESS_LOG="",
    )
    return env


@dataclass(frozen=True)
class Seed:
    """What the benchmark's relying party needs to know about the seeded database."""

    client_id: str
    client_secret: str
    email: str
    password: str
    kid: str


def seed(env: dict[str, str], cwd: Path) -> Seed:
    """Create the schema, a signing key, a centre, a user and a client with the project's CLI."""
    commands = {
        "db": ["db", "upgrade"],
        "key": ["keys", "rotate"],
        "org": ["orgs", "create", "--code", "BE101", "--name", "Bench Centre"],
        "user": [
            "users",
            "create",
            "--email",
            BENCH_EMAIL,
            "--first-name",
            "Bench",
            "--last-name",
            "User",
            "--password",
            BENCH_PASSWORD,
            "--org",
            "BE101",
            "--role",
            "sfa.teacher",
        ],
        "client": [
            "clients",
            "create",
            "--name",
            "Bench",
            "--redirect-uri",
            REDIRECT_URI,
            "--service",
            "submit_for_assessment",
            "--api-scope",
            API_SCOPE,
        ],
    }
    # One child process runs every command through ``idp.cli.main`` (see bench/seed.py), which
    # saves four interpreter start-ups over calling the ``idp`` console script five times.
    proc = subprocess.run(
        [sys.executable, "-m", "bench.seed", json.dumps(commands)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise ServerError(f"seeding failed ({proc.returncode}):\n{proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    return Seed(
        client_id=out["client"]["client_id"],
        client_secret=out["client"]["client_secret"],
        email=out["user"]["email"],
        password=BENCH_PASSWORD,
        kid=out["key"]["kid"],
    )


def answers(port: int, path: str) -> bool:
    """Whether a server on the loopback ``port`` answers ``GET path`` with 200."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (index 0 is field 3, the state)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return data[data.rindex(b")") + 2 :].decode().split()


@dataclass(frozen=True)
class Snapshot:
    """Clocks read at one instant, to be subtracted from a later snapshot."""

    at: float  # time.monotonic()
    server_cpu: float  # seconds: master + live workers + reaped workers
    loadgen_cpu: float  # seconds: this process (the load generator)
    machine_busy: float  # seconds of non-idle CPU, all cores
    worker_pids: tuple[int, ...]
    database_cpu: float = 0.0  # seconds: the database server's processes serving this server


class CpuClock(Protocol):
    """Anything whose CPU time so far can be read, in seconds."""

    def cpu_seconds(self) -> float: ...


class Measured(Protocol):
    """A server under load whose clocks a phase reads at the edges of its window."""

    def snapshot(self) -> Snapshot: ...


def children_of(pid: int) -> tuple[int, ...]:
    """The live processes whose parent is ``pid``, from /proc."""
    parent = str(pid)
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if proc_stat(int(entry))[1] == parent:
                    pids.append(int(entry))
            except (OSError, IndexError):
                continue  # exited while we looked
    return tuple(sorted(pids))


def machine_busy() -> float:
    """Seconds of non-idle CPU since boot, summed over all cores (from /proc/stat)."""
    with open("/proc/stat", "rb") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK  # guest time is already inside user


class ServerProcess(ABC):
    """What every server the benchmark starts offers: its CPU time so far, a snapshot for the
    phase windows, the end of its log, and stopping it on leaving a ``with`` block. When it
    keeps its data in a database server on this machine, ``database`` reads the CPU time of
    the database's processes serving it, so that a phase can tell it apart from other
    programs' work."""

    log_path: Path
    database: CpuClock | None = None

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def cpu_seconds(self) -> float: ...

    def worker_pids(self) -> tuple[int, ...]:
        return ()

    def snapshot(self) -> Snapshot:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return Snapshot(
            at=time.monotonic(),
            server_cpu=self.cpu_seconds(),
            loadgen_cpu=usage.ru_utime + usage.ru_stime,
            machine_busy=machine_busy(),
            worker_pids=self.worker_pids(),
            database_cpu=self.database.cpu_seconds() if self.database is not None else 0.0,
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Gunicorn(ServerProcess):
    """One gunicorn master with ``workers`` workers; a context manager that always stops it."""

    def __init__(
        self,
        app: str,
        port: int,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        workers: int = WORKERS,
    ):
        self.app = app
        self.port = port
        self.workers = workers
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._workers: tuple[int, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(GUNICORN_CONF),
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            self.app,
        ]

    def start(self, ready_path: str, timeout: float = 60.0) -> None:
        with open(self.log_path, "ab") as log:
            # A session of its own: Ctrl-C in the terminal reaches only us, and we stop the
            # server ourselves (and can kill its whole process group if it will not stop).
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                status = self.proc.returncode
                raise ServerError(f"gunicorn exited with {status}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"gunicorn not ready after {timeout:.0f} s:\n{self.log_tail()}")
            if answers(self.port, ready_path) and len(self._scan_workers()) == self.workers:
                self._workers = self._scan_workers()
                return
            time.sleep(0.1)

    def _scan_workers(self) -> tuple[int, ...]:
        assert self.proc is not None
        return children_of(self.proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time of the master and all its workers, past and present.

        A worker gunicorn restarts (``max_requests``) is reaped by the master, and from then on
        its time is part of the master's cutime/cstime; so the sum over master (with reaped
        children) and live workers only ever grows, and differences are exact across restarts.
        """
        assert self.proc is not None
        fields = proc_stat(self.proc.pid)
        ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        try:
            for pid in self._workers:
                ticks += sum(int(v) for v in proc_stat(pid)[11:13])
        except FileNotFoundError:
            self._workers = self._scan_workers()  # a worker was replaced: count afresh
            return self.cpu_seconds()
        return ticks / CLK_TCK

    def worker_pids(self) -> tuple[int, ...]:
        return self._workers

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to the process group if the master lingers."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session made the master its group's leader
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)  # master not yet reaped: the group is ours
                self.proc.wait(timeout=5)
        for pid in self._workers:  # a worker orphaned by a crashed master
            try:
                if os.getpgid(pid) == pgid:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
