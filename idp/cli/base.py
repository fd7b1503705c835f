"""The root ``idp`` group, its entry point, and what every command shares: the context
object, the app context with its transaction (``with_app``), ``--json`` and ``emit``."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from idp import create_app
from idp.config import ConfigError, Settings
from idp.errors import DomainError
from idp.extensions import db


class Context:
    def __init__(self) -> None:
        self._app: Flask | None = None
        self.overrides: dict[str, Any] = {}

    @property
    def app(self) -> Flask:
        if self._app is None:
            # No worker to keep free here: a command's statements get the longer limit.
            self._app = create_app(self.overrides or None, maintenance=True)
        return self._app

    @property
    def settings(self) -> Settings:
        return self.app.extensions["idp.settings"]

    @property
    def keyring(self) -> Any:
        return self.app.extensions["idp.keyring"]


def with_app(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run the command inside an app context; one transaction, rolled back on error."""

    @click.pass_obj
    @functools.wraps(func)
    def wrapper(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        with ctx.app.app_context():
            try:
                return func(ctx, *args, **kwargs)
            except DomainError as exc:
                db.session.rollback()
                raise click.ClickException(str(exc)) from None

    return wrapper


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Operate the identity provider: database, organisations, users, clients, keys."""
    ctx.obj = ctx.obj or Context()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors, conventional exit codes."""
    try:
        result = cli.main(args=argv, prog_name="idp", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("idp: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        click.echo(f"idp: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"idp: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"idp: {exc}", err=True)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)
