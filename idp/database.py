"""Engine set-up: connection options per backend, and SQLite's pragmas."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


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
