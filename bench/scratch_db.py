"""Scratch PostgreSQL databases for ``bench/compare.py``, and the CPU time of their backends.

Each side of each round gets an empty database of its own on the same PostgreSQL server,
created with ``synchronous_commit = on`` (a commit returns once its WAL is flushed to disk) and
dropped when the side is done. The backends serving a database are PostgreSQL processes on this
machine, found in ``pg_stat_activity`` and read from ``/proc``, so a phase can charge the
database's CPU to the side it served instead of counting it as another program's.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.server import CLK_TCK, ServerError, proc_stat

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Scratch:
    """One scratch database: created on entering a ``with`` block, dropped on leaving it."""

    def __init__(self, server: DatabaseServer, name: str):
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.server = server
        self.name = name
        # pid -> CPU seconds when last read: a backend that ends keeps what it had used.
        self._backends: dict[int, float] = {}

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL of this database (libpq, node-postgres, and our config)."""
        parts = urlsplit(self.server.url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def _drop(self) -> None:
        self.server.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(self._ident)
        )

    def __enter__(self) -> Self:
        admin = self.server.admin
        self._drop()  # a leftover of an interrupted run
        admin.execute(sql.SQL("CREATE DATABASE {}").format(self._ident))
        admin.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(self._ident))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._drop()

    @property
    def _ident(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    def setting(self, name: str) -> str:
        """A setting as a new session on this database sees it."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else ""

    def cpu_seconds(self) -> float:
        """CPU time so far of every backend that has served this database (as far as seen)."""
        rows = self.server.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
        ).fetchall()
        for (pid,) in rows:
            assert isinstance(pid, int)
            try:
                fields = proc_stat(pid)
            except OSError:
                continue  # ended since the query
            self._backends[pid] = sum(int(v) for v in fields[11:13]) / CLK_TCK
        return sum(self._backends.values())


class DatabaseServer:
    """The PostgreSQL server the scratch databases live on, through one admin connection."""

    def __init__(self, url: str = DEFAULT_SERVER):
        self.url = url
        self._admin: psycopg.Connection[tuple[object, ...]] | None = None

    @property
    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._admin is None:
            raise RuntimeError("the database server is not open (use it in a with block)")
        return self._admin

    def __enter__(self) -> Self:
        if urlsplit(self.url).hostname not in (None, "", "127.0.0.1", "localhost", "::1"):
            raise ServerError(
                f"{self.url}: the database CPU is read from /proc, so PostgreSQL must run on "
                "this machine"
            )
        try:
            self._admin = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise ServerError(f"PostgreSQL at {self.url}: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def version(self) -> str:
        row = self.admin.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {str(row[0]).split()[0]}" if row else "PostgreSQL"

    def setting(self, name: str) -> str:
        row = self.admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else ""

    def scratch(self, name: str) -> Scratch:
        return Scratch(self, name)
