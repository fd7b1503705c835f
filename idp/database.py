"""Engine set-up: connection options, SQLite pragmas, and a queue for SQLite's single writer.

SQLite lets one connection write at a time. The others retry in SQLite's busy handler, which
sleeps between attempts (1, 2, 5, 10 ... ms), far longer than the provider's writes take
(a fraction of a millisecond). Processes sharing a database file therefore queue for an
advisory lock on ``<database>.write-lock`` before their first write, and release it at commit
or rollback: the kernel wakes the next writer the moment the lock is free. PostgreSQL needs
none of this and gets none of it.
"""

from __future__ import annotations

import fcntl
import os
import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def sqlite_path(url: str) -> str | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.endswith(":memory:"):
        return None
    return url.removeprefix(prefix)


# One descriptor per lock file per process. flock() locks belong to an open file description:
# engines in one process share it, so they never queue behind each other (SQLite itself
# orders them); a descriptor inherited across fork is replaced, so processes do queue.
_descriptors: dict[str, tuple[int, int]] = {}


class WriterQueue:
    """An exclusive ``flock`` held from a connection's first write to its commit/rollback."""

    def __init__(self, path: str):
        self.path = path

    def _descriptor(self) -> int:
        pid, fd = _descriptors.get(self.path, (-1, -1))
        if pid != os.getpid():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            _descriptors[self.path] = (os.getpid(), fd)
        return fd

    def acquire(self, info: dict[str, Any]) -> None:
        if not info.get("idp_writing"):
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            info["idp_writing"] = True

    def release(self, info: dict[str, Any]) -> None:
        if info.pop("idp_writing", False):
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)

    def install(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def before_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if WRITE.match(statement):
                self.acquire(conn.info)

        @event.listens_for(engine, "commit")
        def after_commit(conn: Any) -> None:
            self.release(conn.info)

        @event.listens_for(engine, "rollback")
        def after_rollback(conn: Any) -> None:
            self.release(conn.info)

        @event.listens_for(engine, "checkin")
        def on_checkin(dbapi_connection: Any, record: Any) -> None:
            # A connection returned to the pool mid-transaction is rolled back by the pool.
            self.release(record.info)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, and WAL so readers never wait for the writer."""
    if not type(dbapi_connection).__module__.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
