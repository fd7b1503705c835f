"""The throttles' counts in the application's own database: ``rate_limits.storage_uri =
"database://"``, the default.

Every worker and every instance reads and writes the same rows, so a limit of ten a minute is
ten a minute however many processes serve the site (per-process ``memory://`` counts would let
each worker through as many again). The counts follow the library's sliding-window counter:
two fixed windows per limit and source, the previous one weighted by how much of it still
overlaps the last ``expiry`` seconds. Each hit is one atomic upsert, so two workers counting
at once cannot both take the last place. Expired rows are deleted by ``idp maintenance purge``.

A database that does not answer raises the library's ``StorageError`` (``wrap_exceptions``),
which the throttled pages turn into a 503: without their counts they would be open to
guessing.
"""

from __future__ import annotations

import time
from math import floor
from typing import Any

from limits.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from idp.extensions import db
from idp.models import ThrottleCount

_table = ThrottleCount.__table__


class DatabaseStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A ``limits`` storage on the application's database (its engine, its own transactions:
    a count is kept even when the request that made it rolls back)."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @staticmethod
    def _engine() -> Engine:
        return db.engine  # the current app's, so each app (and each test) has its own

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the count under ``key`` (a fresh count if it expired) and return it."""
        now = time.time()
        engine = self._engine()
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_table).values(key=key, count=amount, expires_at=now + expiry)
        expired = _table.c.expires_at <= now
        statement = insert.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "count": case((expired, amount), else_=_table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=_table.c.expires_at),
            },
        ).returning(_table.c.count)
        with engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def decr(self, key: str, amount: int = 1) -> None:
        with self._engine().begin() as connection:
            connection.execute(
                update(_table)
                .where(_table.c.key == key, _table.c.count >= amount)
                .values(count=_table.c.count - amount)
            )

    def get(self, key: str) -> int:
        with self._engine().connect() as connection:
            count = connection.execute(
                select(_table.c.count).where(_table.c.key == key, _table.c.expires_at > time.time())
            ).scalar()
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        with self._engine().connect() as connection:
            expires = connection.execute(
                select(_table.c.expires_at).where(_table.c.key == key)
            ).scalar()
        return float(expires) if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with self._engine().connect() as connection:
                connection.execute(select(_table.c.key).limit(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine().begin() as connection:
            return int(connection.execute(delete(_table)).rowcount or 0)

    def clear(self, key: str) -> None:
        with self._engine().begin() as connection:
            connection.execute(delete(_table).where(_table.c.key == key))

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        """Take ``amount`` places if the weighted count leaves room; as the library's own
        storages do, the count is raised atomically and given back if another hit took the
        last place in between."""
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, previous_ttl, current, _ = self._window(previous_key, current_key, expiry, now)
        if floor(previous * previous_ttl / expiry + current) + amount > limit:
            return False
        # Twice the window: the count is still needed as the previous window's.
        current = self.incr(current_key, 2 * expiry, amount)
        if floor(previous * previous_ttl / expiry + current) > limit:
            self.decr(current_key, amount)
            return False
        return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        return self._window(previous_key, current_key, expiry, now)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        previous_key, current_key = self.sliding_window_keys(key, expiry, time.time())
        self.clear(previous_key)
        self.clear(current_key)

    def _window(
        self, previous_key: str, current_key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        with self._engine().connect() as connection:
            counts: dict[str, int] = dict(
                connection.execute(
                    select(_table.c.key, _table.c.count).where(
                        _table.c.key.in_((previous_key, current_key)), _table.c.expires_at > now
                    )
                ).all()
            )
        previous = int(counts.get(previous_key, 0))
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, int(counts.get(current_key, 0)), current_ttl
