"""`idp demo`: the first of the README's two commands, from an empty directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_demo(cwd, *args, env=None):
    return run_idp(cwd, "demo", "--no-serve", *args, **(env or {}))


def run_idp(cwd, *args, **env_vars):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")} | env_vars
    return subprocess.run(
        [sys.executable, "-m", "idp.cli", *args],
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
    assert set(clients) == {
        "submit-for-assessment",
        "access-arrangements",
        "global-listening",
        "primary-support",
        "ocr-interchange",
    }

    second = run_demo(tmp_path, "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["issuer"] == "http://localhost:5000"
    assert {c["client_id"] for c in summary["clients"]} == set(clients)
    assert list((tmp_path / "keys").glob("*.pem")) == pems  # no new key
    assert json.loads((tmp_path / "instance" / "demo-clients.json").read_text()) == clients


def _row(lines: list[str], account: str) -> int:
    return next(n for n, line in enumerate(lines) if line.split()[:1] == [account])


def test_demo_says_who_is_who_and_what_to_try(tmp_path):
    """A short table: each account, its centre, its roles by name, and what to try with it;
    then the demo services and their ports. --json carries the same."""
    text = run_demo(tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "sfa.teacher" not in text.stdout and "primary.teacher" not in text.stdout  # names only

    donald = _row(lines, "aa101.donald@example.org")
    assert lines[donald].split()[1:] == ["AA101", "Submit", "for", "Assessment:", "Teacher"]
    assert lines[donald + 1].split() == ["CA201", "Submit", "for", "Assessment:", "Teacher"]
    assert "teacher at two centres" in lines[donald + 2]
    minnie = _row(lines, "aa101.minnie@example.org")
    assert lines[minnie].split()[1:] == ["AA101", "Primary", "support", "site:", "Teacher"]
    assert "Progression Test groups" in lines[minnie + 1]
    olive = _row(lines, "oc301.officer@example.org")
    assert lines[olive].split()[1:] == ["OC301", "OCR", "Interchange,", "User", "Management"]
    sam = _row(lines, "sam.signup@example.org")
    assert "none (no centre)" in lines[sam] and "Signed up on their own" in lines[sam + 1]
    for account in (
        "aa101.anakin",
        "aa101.buzz",
        "ca200.officer",
        "aa101.eve",
        "operator",
        "support",
    ):
        _row(lines, f"{account}@example.org")
    assert "  Cambridge Primary support site   http://127.0.0.1:5104/   port 5104" in lines
    assert "  OCR Interchange                  http://127.0.0.1:5105/   port 5105" in lines

    summary = json.loads(run_demo(tmp_path, "--json").stdout)
    accounts = {a["email"]: a for a in summary["accounts"]}
    assert accounts["aa101.donald@example.org"]["centres"] == [
        {"code": "AA101", "roles": ["Submit for Assessment: Teacher"]},
        {"code": "CA201", "roles": ["Submit for Assessment: Teacher"]},
    ]
    assert accounts["sam.signup@example.org"]["centres"] == []
    assert "OCR Interchange" in accounts["oc301.officer@example.org"]["try"]
    assert len(accounts) == sum("→" in line for line in lines) == 13
    ports = {s["client_id"]: s["port"] for s in summary["services"]}
    assert ports == {
        "submit-for-assessment": 5101,
        "access-arrangements": 5102,
        "global-listening": 5103,
        "primary-support": 5104,
        "ocr-interchange": 5105,
    }

    # The line it prints for the idp command works as printed, from the same directory.
    line = lines[lines.index("The idp command against this demo (here, in another terminal):") + 1]
    assert line.strip() == summary["cli"]
    assert "IDP_SECRET_KEY=$(cat instance/secret_key)" in line
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    listed = subprocess.run(
        ["bash", "-c", line.strip() + " --json"], cwd=tmp_path, env=env, capture_output=True
    )
    assert listed.returncode == 0, listed.stderr
    assert {c["client_id"] for c in json.loads(listed.stdout)} == set(ports)

    # The support site keeps Progression Test groups: the provider asks it before a deletion,
    # and it reads the centre's people from the API.
    secret_key = (tmp_path / "instance" / "secret_key").read_text().strip()
    shown = run_idp(
        tmp_path,
        "clients",
        "show",
        "primary-support",
        "--json",
        IDP_SECRET_KEY=secret_key,
        IDP_OIDC__ISSUER="http://127.0.0.1:5000",
    )
    client = json.loads(shown.stdout)
    assert client["user_data_uri"] == "http://127.0.0.1:5104/user-data"
    assert client["api_scopes"] == ["users.read"]
    assert client["services"] == ["primary_support"]


def test_demo_points_connected_accounts_at_its_stand_in_unless_upstreams_are_configured(
    tmp_path,
):
    first = run_demo(tmp_path, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["connected_accounts"] == {
        "name": "Google (demo stand-in)",
        "issuer": "http://127.0.0.1:5110",
    }
    kept = tmp_path / "instance" / "demo-upstream.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert json.loads(kept.read_text())["client_secret"]

    text = run_demo(tmp_path)
    assert "Google (demo stand-in) at http://127.0.0.1:5110 is a local stand-in" in text.stdout

    mine = [{"key": "fb", "name": "Facebook", "kind": "facebook", "client_id": "a",
             "client_secret": "b"}]  # fmt: skip
    configured = run_demo(tmp_path, "--json", env={"IDP_UPSTREAM": json.dumps(mine)})
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["connected_accounts"] is None
