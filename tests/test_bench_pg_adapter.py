"""The durable reference provider's PostgreSQL adapter (bench/peer/pg_adapter.mjs), checked by
bench/peer/pg_adapter_check.mjs against an empty database of the test PostgreSQL server.

Runs with IDP_TEST_DATABASE_URL set to PostgreSQL, node installed and node-postgres in
bench/peer/node_modules, or in npm's cache (installed from there, never from the network);
skipped otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from bench import peer_provider

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "")
CHECK = peer_provider.PEER_DIR / "pg_adapter_check.mjs"

pytestmark = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"), reason="needs IDP_TEST_DATABASE_URL (PostgreSQL)"
)


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if peer_provider.missing_packages():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("bench/peer's packages are not installed, and npm is not there")
        subprocess.run(
            [npm, "ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=peer_provider.PEER_DIR,
            capture_output=True,
            timeout=300,
            check=False,
        )
        if missing := peer_provider.missing_packages():
            pytest.skip(f"not installed and not in npm's cache: {', '.join(missing)}")
    return node


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database of its own, dropped afterwards, whose default is not to commit
    synchronously: the adapter must ask for it."""
    parts = urlsplit(PG_URL)
    name = f"{parts.path.lstrip('/')}_adapter"[:63]
    ident = sql.Identifier(name)
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        admin.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(ident))
        try:
            url = urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))
            yield url
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def test_the_adapter_keeps_what_the_provider_stores(node: str, empty_database: str):
    env = {**os.environ, "PEER_DATABASE_URL": empty_database}
    proc = subprocess.run(
        [node, str(CHECK)],
        cwd=peer_provider.PEER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = re.search(r"^(\d+) of (\d+) checks passed$", proc.stdout, re.MULTILINE)
    assert passed is not None and passed[1] == passed[2], proc.stdout
    assert int(passed[2]) >= 10  # every check ran
