"""Hot-path statements run straight on the session's database connection.

SQLAlchemy spends about 100 µs of Python on each statement it executes (cache key, execution
context, result set-up) where the driver needs 20 (bench/README.md, *Where the time goes*).
The protocol endpoints run five or six statements a request, so that overhead was the
largest single cost of a refresh grant. A ``Prepared`` statement is a Core statement compiled
once per dialect; running it hands the compiled SQL and parameters to the DBAPI cursor of the
session's own connection, so it is part of the session's transaction and commits or rolls
back with it.

What SQLAlchemy would have done around the cursor is kept: pending ORM changes are flushed
first (unless autoflush is off), parameters and results go through each column type's bind
and result processors (``UTCDateTime``, JSON, enums come back as they would from
``Session.execute``), driver errors are raised as SQLAlchemy's ``DBAPIError`` subclasses, and
a connection the driver reports as lost is invalidated, so the pool replaces it and the 503
handler sees the same exception as anywhere else.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from idp.extensions import db

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark/format drivers
    fixed: dict[str, Any]  # values the statement carries itself (LIMIT 1 and the like)
    bind: tuple[tuple[str, Callable[[Any], Any]], ...]
    row: Callable[..., Any] | None  # a namedtuple of the selected columns
    result: tuple[Processor, ...]


class Prepared:
    """A Core statement (select, insert, update, delete) run without SQLAlchemy's per-call work.

    ``keys`` lists the parameters an INSERT is given (its columns); every column with a
    default must be among them, since no Python-side default is applied here.
    """

    def __init__(self, statement: ClauseElement, keys: Iterable[str] | None = None):
        self.statement = statement
        self.keys = list(keys) if keys is not None else None
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.keys)
        binds = compiled.binds
        if any(b.expanding for b in binds.values()):
            raise ValueError("Prepared does not take expanding (IN list) parameters")
        given = set(self.keys or ())
        fixed = {
            name: b.effective_value
            for name, b in binds.items()
            if not b.required and name not in given
        }
        # Columns whose Python-side default SQLAlchemy would have computed at execution.
        missing = [column.key for column in getattr(compiled, "insert_prefetch", ())]
        if missing:
            raise ValueError(f"Prepared INSERT lacks values for {', '.join(sorted(missing))}")
        bind = []
        for name, b in binds.items():
            processor = b.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                bind.append((name, processor))
        positional = tuple(compiled.positiontup) if compiled.positional else None
        row: Callable[..., Any] | None = None
        result: tuple[Processor, ...] = ()
        if isinstance(self.statement, Select):
            columns = self.statement.selected_columns
            row = namedtuple("Row", list(columns.keys()))  # type: ignore[misc,no-redef]
            result = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
        return _Plan(compiled.string, positional, fixed, tuple(bind), row, result)

    # -- running --------------------------------------------------------------------

    def _run(self, params: dict[str, Any]) -> tuple[Any, _Plan]:
        session = db.session()
        if session.autoflush:
            # As Session.execute does: the statement sees the ORM changes made so far in this
            # transaction, in order (a cheap check when there are none).
            session.flush()
        connection = session.connection()
        dialect = connection.dialect
        plan = self._plan(dialect)
        values = {**plan.fixed, **params} if plan.fixed else dict(params)
        for name, processor in plan.bind:
            if name in values:
                values[name] = processor(values[name])
        args: Any = (
            tuple(values[name] for name in plan.positional)
            if plan.positional is not None
            else values
        )
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(plan.sql, args)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            _raise(connection, error, plan.sql, args)
        return cursor, plan

    @staticmethod
    def _rows(plan: _Plan, raw: list[Any]) -> list[Any]:
        assert plan.row is not None
        processors = plan.result
        return [
            plan.row(*[p(v) if p is not None else v for p, v in zip(processors, r, strict=True)])
            for r in raw
        ]

    def first(self, **params: Any) -> Any:
        """The first row (attributes named as the statement's columns), or None."""
        cursor, plan = self._run(params)
        try:
            raw = cursor.fetchone()
        finally:
            cursor.close()
        return None if raw is None else self._rows(plan, [raw])[0]

    def all(self, **params: Any) -> list[Any]:
        cursor, plan = self._run(params)
        try:
            raw = cursor.fetchall()
        finally:
            cursor.close()
        return self._rows(plan, raw)

    def execute(self, **params: Any) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        cursor, _ = self._run(params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _raise(connection: Any, error: Exception, sql: str, args: Any) -> None:
    """Raise a driver error as SQLAlchemy would, invalidating a connection that is gone."""
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    lost = dialect.is_disconnect(error, dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    raise exc.DBAPIError.instance(
        sql,
        args,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    ) from error
