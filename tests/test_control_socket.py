"""Every gunicorn the demo starts (the provider, a demo service, the stand-in for Google) runs
without gunicorn's control socket, whose default path is one per user: started side by side
under one home directory, none of them makes it, so none fights another over it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.mailbox import free_port
from tests.servers import serving, stop

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def _process(argv: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[None]:
    """``argv`` running with ``env`` until the block ends; ready once ``url`` answers."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv} did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield
    finally:
        stop(process)


def test_no_demo_gunicorn_makes_the_per_user_control_socket(_schema, base_overrides, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # gunicorn puts its socket in $XDG_RUNTIME_DIR when that is a directory, else in ~/.gunicorn.
    own = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "RP_", "UPSTREAM_"))}
    env = {**clean, **own}
    service_port, stand_in_port = free_port(), free_port()
    service = {"RP_CLIENT_SECRET": "not-used", "RP_PORT": str(service_port)}
    stand_in = {
        "UPSTREAM_CLIENT_ID": "provider",
        "UPSTREAM_CLIENT_SECRET": "not-used",
        "UPSTREAM_REDIRECT_URI": "http://127.0.0.1:5000/connect/google/callback",
        "UPSTREAM_PORT": str(stand_in_port),
    }
    with (
        serving(base_overrides, tmp_path, workers=1, **own),
        _process(
            [sys.executable, "-m", "clients.run", "submit-for-assessment"],
            {**env, **service},
            f"http://127.0.0.1:{service_port}/",
            tmp_path / "service.log",
        ),
        _process(
            [sys.executable, "-m", "clients.upstream"],
            {**env, **stand_in},
            f"http://127.0.0.1:{stand_in_port}/.well-known/openid-configuration",
            tmp_path / "stand-in.log",
        ),
    ):
        assert not (home / ".gunicorn").exists()
    logs = [tmp_path / name for name in ("server.log", "service.log", "stand-in.log")]
    assert not any("control" in log.read_text().lower() for log in logs)
