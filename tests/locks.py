"""A table locked from a connection of its own: every statement that reads it waits, as it
would behind a long transaction or a migration, which makes a statement slow without a slow
route in the product."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from idp.extensions import db

# Should a waiting statement not be cancelled, the lock goes once its holder has sat idle this
# long (the server ends that session), so a test fails instead of waiting for ever.
HOLD_AT_MOST = "20s"


@contextmanager
def locked(table: str) -> Iterator[None]:
    """Hold an exclusive lock on ``table`` (of the current app's database) until the end of
    the block."""
    engine = create_engine(db.engine.url, poolclass=NullPool)
    try:
        with engine.connect() as holder:
            holder.execute(text(f"SET idle_in_transaction_session_timeout = '{HOLD_AT_MOST}'"))
            holder.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
            try:
                holder.rollback()
            except OperationalError:  # its session was ended: the lock went with it
                pass
    finally:
        engine.dispose()
