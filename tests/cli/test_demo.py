"""`idp demo`: the first of the README's two commands, from an empty directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_demo(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    return subprocess.run(
        [sys.executable, "-m", "idp.cli", "demo", "--no-serve", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_sets_everything_up_once_and_is_safe_to_rerun(tmp_path):
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Sign in as any of these" in first.stdout
    assert "aa101.anakin@example.org" in first.stdout

    pems = list((tmp_path / "keys").glob("*.pem"))
    assert len(pems) == 1
    assert pems[0].stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "instance").stat().st_mode & 0o777 == 0o700
    secret = tmp_path / "instance" / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "instance" / "idp.sqlite3").exists()
    clients = json.loads((tmp_path / "instance" / "demo-clients.json").read_text())
    assert set(clients) == {"submit-for-assessment", "access-arrangements", "global-listening"}

    second = run_demo(tmp_path, "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["issuer"] == "http://127.0.0.1:5000"
    assert {c["client_id"] for c in summary["clients"]} == set(clients)
    assert list((tmp_path / "keys").glob("*.pem")) == pems  # no new key
    assert json.loads((tmp_path / "instance" / "demo-clients.json").read_text()) == clients
