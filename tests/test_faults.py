"""Faults under a running provider: its Redis goes away, its PostgreSQL restarts mid-load, a
worker is killed mid-request. Each test runs real ``idp serve`` processes on loopback against
servers of its own, in bounded loops, and checks what a person or a relying party would see:
a fast 503 with Retry-After while a dependency is down, service again without restarting the
provider once it is back, and nothing lost that was answered as done."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from idp import create_app
from idp.extensions import db
from tests.conftest import PG_URL
from tests.factories import PASSWORD, Factories
from tests.locks import locked
from tests.mailbox import free_port
from tests.servers import (
    PrivatePostgres,
    PrivateRedis,
    children,
    idp_serve_process,
    server_env,
)

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _sign_in(base: str, email: str, password: str) -> requests.Response:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=5)
    return browser.post(
        f"{base}/login",
        data={"csrf_token": CSRF.search(page.text).group(1), "email": email, "password": password},
        allow_redirects=False,
        timeout=5,
    )


def _workers(master: int, count: int) -> list[int]:
    """The master's worker pids, once all ``count`` have forked (the readiness check answers
    as soon as the first one does)."""
    deadline = time.monotonic() + 15
    while len(found := sorted(children(master))) < count:
        assert time.monotonic() < deadline, f"only {len(found)} of {count} workers started"
        time.sleep(0.05)
    return found


# Redis ------------------------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


def test_redis_down_fails_sign_in_closed_and_leaves_discovery_open(
    redis_server, make, base_overrides, tmp_path
):
    make.user("jane@example.org")
    registered = make.client(api_scopes=("organisations.read",))
    env = server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        tmp_path,
        IDP_RATE_LIMITS__STORAGE_URI=redis_server.url,
    )
    port = free_port()
    with idp_serve_process(env, port, tmp_path / "server.log", cwd=tmp_path) as (base, _):
        env_issuer = base
        assert _sign_in(base, "jane@example.org", PASSWORD).status_code == 302

        redis_server.stop()
        started = time.monotonic()
        refused = _sign_in(base, "jane@example.org", PASSWORD)
        assert time.monotonic() - started < 3, "a dead Redis must not hold the sign-in page"
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 5
        assert "Try again in a few seconds" in refused.text
        assert "Set-Cookie" not in refused.headers or "idp_session" not in refused.text
        token = requests.post(
            f"{base}/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(registered.client_id, registered.secret),
            timeout=5,
        )
        assert token.status_code == 503
        assert token.json()["error"] == "temporarily_unavailable"
        # Not throttled, so not stopped: relying parties can still find us and check tokens.
        assert requests.get(f"{base}/.well-known/openid-configuration", timeout=5).ok
        assert requests.get(f"{base}/jwks.json", timeout=5).ok
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert (ready.status_code, ready.json()["redis"]) == (503, "unreachable")

        # Redis returns on the same address: the provider picks it up by itself.
        redis_server.start()
        deadline = time.monotonic() + 10
        while _sign_in(base, "jane@example.org", PASSWORD).status_code != 302:
            assert time.monotonic() < deadline, "sign-in did not recover with Redis"
            time.sleep(0.2)
        assert requests.get(f"{env_issuer}/readyz", timeout=5).status_code == 200


# PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="idp-faults-pg-"))
    server = PrivatePostgres(directory, free_port())
    if not server.available():
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    try:
        server.init()
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Sample:
    started: float
    ended: float
    what: str
    status: int
    retry_after: str | None


class Load:
    """Threads that ask for a client_credentials token and read the API with it, again and
    again, until told to stop (or a hard deadline), recording every answer."""

    def __init__(self, base: str, client_id: str, secret: str, threads: int = 4) -> None:
        self.base, self.auth = base, _basic(client_id, secret)
        self.samples: list[Sample] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _record(self, what: str, started: float, response: requests.Response) -> None:
        self.samples.append(
            Sample(
                started,
                time.monotonic(),
                what,
                response.status_code,
                response.headers.get("Retry-After"),
            )
        )

    def _run(self) -> None:
        session = requests.Session()
        deadline = time.monotonic() + 60
        while not self.stopping.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            token = session.post(
                f"{self.base}/token",
                data={"grant_type": "client_credentials"},
                headers=self.auth,
                timeout=5,
            )
            self._record("token", started, token)
            if token.status_code == 200:
                started = time.monotonic()
                bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
                api = session.get(f"{self.base}/api/organisations/SO101", headers=bearer, timeout=5)
                self._record("api", started, api)
            else:
                time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def _problems(log: Path, lines: int = 60) -> str:
    """The server log's error lines and tracebacks, to say what went wrong."""
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    marks = ('"level": "error"', "[ERROR]", "Traceback")
    keep = [line for line in text if any(mark in line for mark in marks)]
    return "\n".join(keep[-lines:])


def _seed(database_url: str, keys_dir: Path, base_overrides: dict[str, Any]) -> Any:
    from idp.cli import upgrade_schema
    from idp.domain import catalogue

    overrides = {**base_overrides, "DATABASE_URL": database_url}
    overrides["OIDC"] = {**base_overrides["OIDC"], "KEYS_DIR": str(keys_dir)}
    app = create_app(overrides)
    with app.app_context():
        upgrade_schema()
        catalogue.sync(app.extensions["idp.settings"].catalogue)
        db.session.commit()
        app.extensions["idp.keyring"].rotate("RS256")
        make = Factories(app)
        make.org("SO101")
        registered = make.client(api_scopes=("organisations.read",))
        db.session.remove()
        db.engine.dispose()
    return registered


def test_postgres_restarted_mid_load(postgres, base_overrides, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    registered = _seed(postgres.url, keys, base_overrides)
    env = server_env(postgres.url, str(keys), tmp_path)
    with idp_serve_process(env, free_port(), tmp_path / "server.log", cwd=tmp_path, workers=2) as (
        base,
        process,
    ):
        workers = _workers(process.pid, 2)
        with Load(base, registered.client_id, registered.secret) as load:
            time.sleep(1.5)
            stopping = time.monotonic()
            postgres.stop()
            down_from = time.monotonic()
            time.sleep(0.5)
            ready = requests.get(f"{base}/readyz", timeout=5)
            discovery = requests.get(f"{base}/.well-known/openid-configuration", timeout=5)
            time.sleep(2)
            down_until = time.monotonic()
            postgres.start()
            up_from = time.monotonic()
            deadline = up_from + 15
            while not [s for s in load.samples if s.started > up_from and s.status == 200]:
                assert time.monotonic() < deadline, "the provider did not recover"
                time.sleep(0.1)
            time.sleep(1)
        assert sorted(children(process.pid)) == workers, "a worker died or was restarted"

    samples = load.samples
    assert samples, "no load ran"
    unexpected = sorted({(s.what, s.status) for s in samples if s.status not in (200, 503)})
    assert not unexpected, f"an error other than 'unavailable': {unexpected}\n" + _problems(
        tmp_path / "server.log"
    )
    slowest = max(s.ended - s.started for s in samples)
    assert slowest < 2, f"a request took {slowest:.2f} s: failing is not fast"
    while_down = [s for s in samples if s.started > down_from + 0.2 and s.ended < down_until]
    assert while_down, "no request was made while PostgreSQL was down"
    # Retry-After: 5, or the throttling window's reset when the token endpoint's is later.
    assert all(s.status == 503 and int(s.retry_after or 0) >= 5 for s in while_down), [
        (s.what, s.status, s.retry_after) for s in while_down
    ]
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert discovery.status_code == 200
    before = [s for s in samples if s.ended < stopping]
    after = [s for s in samples if s.started > up_from + 1]
    assert before and all(s.status == 200 for s in before), [(s.what, s.status) for s in before]
    assert after and all(s.status == 200 for s in after), [(s.what, s.status) for s in after]


# Workers ----------------------------------------------------------------------------------


def test_a_worker_killed_mid_request_loses_nothing_answered(make, base_overrides, tmp_path):
    make.org("SO101")
    registered = make.client(api_scopes=("organisations.read",))
    env = server_env(base_overrides["DATABASE_URL"], base_overrides["OIDC"]["KEYS_DIR"], tmp_path)
    auth = _basic(registered.client_id, registered.secret)
    issued: list[str] = []
    broken = 0
    with idp_serve_process(env, free_port(), tmp_path / "server.log", cwd=tmp_path, workers=2) as (
        base,
        process,
    ):
        victim = _workers(process.pid, 2)[0]

        def grant() -> None:
            nonlocal broken
            session = requests.Session()
            for _ in range(25):
                try:
                    response = session.post(
                        f"{base}/token",
                        data={"grant_type": "client_credentials"},
                        headers=auth,
                        timeout=5,
                    )
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    # The killed worker's request: no answer, or one cut off mid-body.
                    broken += 1
                    continue
                assert response.status_code == 200, response.text
                issued.append(response.json()["access_token"])

        threads = [threading.Thread(target=grant) for _ in range(4)]
        for thread in threads:
            thread.start()
        while len(issued) < 20:
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=60)
        assert len(issued) + broken == 100
        # gunicorn's master replaces the worker; the provider serves on.
        deadline = time.monotonic() + 15
        while victim in children(process.pid) or len(children(process.pid)) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        # Every token answered as issued was committed first: each one opens the API.
        for token in issued:
            api = requests.get(
                f"{base}/api/organisations/SO101",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            assert api.status_code == 200, api.text


# Slow statements --------------------------------------------------------------------------


@pytest.mark.skipif(not PG_URL, reason="statement_timeout is PostgreSQL's; SQLite has none")
def test_a_slow_statement_is_a_503_and_its_worker_serves_on(make, base_overrides, tmp_path):
    make.user("jane@example.org")
    env = server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        tmp_path,
        IDP_DATABASE__STATEMENT_TIMEOUT="1",
    )
    log = tmp_path / "server.log"
    with idp_serve_process(env, free_port(), log, cwd=tmp_path, workers=1) as (base, process):
        (worker,) = _workers(process.pid, 1)
        with locked("email_addresses"):  # the sign-in's look-up waits past the limit
            refused = _sign_in(base, "jane@example.org", PASSWORD)
        # At least our 5 s: the throttle's headers make it the later of ours and its window's.
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 5
        assert "This page took too long" in refused.text
        # The same worker, not a replacement, signs Jane in.
        assert _sign_in(base, "jane@example.org", PASSWORD).status_code == 302
        assert children(process.pid) == [worker]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (cancelled,) = [line for line in lines if "statement_timeout" in line["message"]]
    assert cancelled["request_id"] == refused.headers["X-Request-ID"]
