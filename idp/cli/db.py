"""``idp db``: the schema (upgrade, new migrations) and SQLite backup and restore."""

from __future__ import annotations

import click

from idp.cli.base import Context, cli, emit, json_option, with_app
from idp.extensions import db


@cli.group("db")
def db_group() -> None:
    """Create or upgrade the database schema."""


@db_group.command("upgrade")
@json_option
@with_app
def db_upgrade(ctx: Context, as_json: bool) -> None:
    """Apply every migration, then copy the service catalogue into the database."""
    from idp.domain import catalogue

    revision = upgrade_schema()
    counts = catalogue.sync(ctx.settings.catalogue)
    db.session.commit()
    emit(
        as_json,
        {"revision": revision, **counts},
        f"Database at revision {revision}; {counts['services']} services, {counts['roles']} roles.",
    )


def upgrade_schema() -> str:
    import logging

    from alembic.runtime.migration import MigrationContext
    from flask_migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or "base"


def _sqlite_path(ctx: Context) -> str:
    url = ctx.settings.database_url
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        raise click.ClickException(
            "backup and restore are for the SQLite database; for PostgreSQL use its own tools: "
            "pg_dump -Fc -f idp.dump DB and pg_restore --clean -d DB idp.dump"
        )
    return url.removeprefix("sqlite:///")


@db_group.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
@json_option
@with_app
def db_backup(ctx: Context, target: str, as_json: bool) -> None:
    """Copy the SQLite database to TARGET while the provider keeps running (SQLite's online
    backup: a consistent copy, written pages and all). Back up keys/ beside it."""
    import os
    import sqlite3

    source = _sqlite_path(ctx)
    if os.path.exists(target):
        raise click.ClickException(f"{target} exists; choose a new file")
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
        (check,) = copy.execute("PRAGMA integrity_check").fetchone()
    os.chmod(target, 0o600)
    emit(as_json, {"backup": target, "integrity": check}, f"Backed up to {target} ({check}).")


@db_group.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@json_option
@with_app
def db_restore(ctx: Context, source: str, as_json: bool) -> None:
    """Replace the SQLite database's contents with the backup SOURCE (checked first), then
    upgrade it to this release's schema. Stop the provider first."""
    import sqlite3

    target = _sqlite_path(ctx)
    with sqlite3.connect(source) as backup:
        try:
            (check,) = backup.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"{source} is not a usable backup: {exc}") from None
        if check != "ok":
            raise click.ClickException(f"{source} is damaged: {check}")
        db.engine.dispose()
        with sqlite3.connect(target) as live:
            backup.backup(live)
    revision = upgrade_schema()
    emit(
        as_json,
        {"restored": source, "revision": revision},
        f"Restored {source}; database at revision {revision}.",
    )


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the schema change does.")
@json_option
@with_app
def db_revision(ctx: Context, message: str, as_json: bool) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    script = command.revision(config, message=message, autogenerate=True)
    path = getattr(script, "path", None)
    emit(
        as_json,
        {"revision": getattr(script, "revision", None), "path": path},
        f"Wrote {path}." if path else "No schema changes.",
    )
