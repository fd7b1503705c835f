"""SQLite's single writer: processes queue on an advisory lock instead of polling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from idp import database
from idp.extensions import db
from idp.models import AuditEvent

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


def lock_state(path: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROBE, path], capture_output=True, text=True, timeout=30
    ).stdout.strip()


@pytest.fixture
def lock_file(app, database_url):
    path = database.sqlite_path(database_url)
    if path is None:
        pytest.skip("SQLite only")
    return path + ".write-lock"


def test_first_write_takes_the_lock_and_commit_releases_it(app, lock_file):
    assert lock_state(lock_file) == "free"
    db.session.add(AuditEvent(action="test.write"))
    db.session.flush()
    assert lock_state(lock_file) == "held"
    db.session.commit()
    assert lock_state(lock_file) == "free"


def test_rollback_releases_the_lock(app, lock_file):
    db.session.add(AuditEvent(action="test.write"))
    db.session.flush()
    db.session.rollback()
    assert lock_state(lock_file) == "free"


def test_reads_do_not_take_the_lock(app, lock_file):
    db.session.query(AuditEvent).count()
    assert lock_state(lock_file) == "free"
    db.session.rollback()


def test_sqlite_path():
    assert database.sqlite_path("sqlite:////srv/idp.sqlite3") == "/srv/idp.sqlite3"
    assert database.sqlite_path("sqlite:///:memory:") is None
    assert database.sqlite_path("postgresql+psycopg://u@h/db") is None
