"""The ``idp`` commands run their statements under ``database.maintenance_statement_timeout``,
not the web requests' shorter ``database.statement_timeout``: a purge that waits on a lock
longer than a web request may still finishes."""

from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from idp import create_app
from idp.cli import Context, cli
from idp.extensions import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="statement_timeout is PostgreSQL's; SQLite has no such limit"
)

WEB_LIMIT = 1  # second


def limits(overrides):
    overrides["DATABASE"] = {"STATEMENT_TIMEOUT": WEB_LIMIT, "MAINTENANCE_STATEMENT_TIMEOUT": 120}
    return overrides


def shown_limit(app) -> str:
    with app.app_context():
        try:
            return db.session.execute(text("SHOW statement_timeout")).scalar_one()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_commands_get_the_maintenance_limit_and_web_requests_the_short_one(app, overrides):
    ctx = Context()
    ctx.overrides = limits(overrides)
    assert shown_limit(ctx.app) == "2min"
    assert shown_limit(create_app(overrides)) == "1s"


def waiting_for_a_lock(url) -> bool:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            return conn.execute(text(query)).scalar_one() > 0
    finally:
        engine.dispose()


def test_a_purge_may_wait_longer_than_a_web_request(app, overrides):
    """The purge waits on a lock for twice the web limit, then goes on and finishes."""
    url = db.engine.url
    held, released = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as holder:
                holder.execute(text("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE"))
                held.set()
                deadline = time.monotonic() + 30
                while not waiting_for_a_lock(url) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(2 * WEB_LIMIT)  # the purge waits at least this long
                holder.rollback()
        finally:
            engine.dispose()
            released.set()

    holder = threading.Thread(target=hold_the_lock, daemon=True)
    holder.start()
    assert held.wait(10)
    ctx = Context()
    ctx.overrides = limits(overrides)
    result = CliRunner().invoke(cli, ["maintenance", "purge", "--json"], obj=ctx)
    with ctx.app.app_context():
        db.engine.dispose()
    holder.join(60)
    assert released.is_set()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tokens"] == 0
