"""Engine set-up: connection options per backend, and SQLite's pragmas.

On PostgreSQL every connection is opened with a ``statement_timeout``: a statement that runs
longer (a query gone wrong, a wait on a lock) is cancelled by the server, and the request gets
a 503 "took too long" instead of holding its worker (idp/web/errors.py). Web requests get
``database.statement_timeout``, the ``idp`` commands ``database.maintenance_statement_timeout``.
SQLite has no such limit; a statement there runs to its end.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)


# The SQLSTATE of a statement cancelled by statement_timeout (or by pg_cancel_backend).
QUERY_CANCELED = "57014"


def engine_options(url: str, statement_timeout: float) -> dict[str, Any]:
    """Options for the engine on ``url``; on PostgreSQL, each connection's statements are
    cancelled after ``statement_timeout`` seconds (set as the connection opens: no extra round
    trip, and every pooled connection has it)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    limit = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
    given = make_url(url).query.get("options")  # libpq options in the URL still apply
    options = f"{given} {limit}" if isinstance(given, str) and given else limit
    return {
        # No ping before each checkout (a SELECT 1 round trip, 6 % of a refresh grant): a
        # connection the server dropped fails its first statement instead, SQLAlchemy then
        # invalidates it and every connection pooled before it, that request is a 503 with
        # Retry-After (idp/web/errors.py) and the next ones get fresh connections. Connections
        # are replaced after half an hour, before a firewall or server drops them while idle.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "pool_size": 10,
        "max_overflow": 10,
        "connect_args": {"options": options},
    }


def statement_cancelled(error: exc.OperationalError) -> bool:
    """Whether the database cancelled the statement (it ran past statement_timeout), rather
    than being unreachable."""
    return getattr(error.orig, "sqlstate", None) == QUERY_CANCELED


def statement_summary(sql: str | None, limit: int = 300) -> str:
    """A statement as a log line shows it, to find what needs an index: one line, a SELECT
    from its FROM on (not its column list), cut at ``limit`` characters. Only the text:
    the values are parameters, never in it."""
    line = " ".join((sql or "").split())
    start = line.find(" FROM ") if line.startswith("SELECT ") else -1
    line = "SELECT … " + line[start + 1 :] if start > 0 else line
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


def install_teardown(app: Flask) -> None:
    """End each request's session without turning a lost connection into a 500.

    Flask-SQLAlchemy closes the session after every request, which rolls back on the
    connection. If the database went away after the request's last statement (a restart, a
    failover), that rollback fails although the request's work was done: committed, or void on
    the server with the connection. The connection is then dropped (invalidated, so the pool
    opens a new one) and the answer already made stands. Registered after Flask-SQLAlchemy, so
    it runs first.
    """

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        from idp.extensions import db

        try:
            db.session.remove()
        except (exc.OperationalError, exc.InterfaceError) as error:
            log.warning("database connection lost at the end of a request: %s", error.orig)
            db.session.registry().invalidate()
            db.session.remove()
