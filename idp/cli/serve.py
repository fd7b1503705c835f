"""``idp serve``: check the configuration and keys, then run gunicorn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from idp.cli.base import Context, cli, emit, json_option, with_app


@cli.command("serve")
@click.option("--bind", default=None, help="host:port (default 127.0.0.1:5000 or IDP_BIND).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 2 x cores).")
@click.option("--check", is_flag=True, help="Check configuration and keys, then exit.")
@json_option
@with_app
def serve(ctx: Context, bind: str | None, workers: int | None, check: bool, as_json: bool) -> None:
    """Serve the provider with gunicorn (settings: idp/gunicorn_conf.py)."""
    keyring = ctx.keyring
    alg = ctx.settings.oidc.signing_alg
    if not keyring.has_signing_key(alg):
        raise click.ClickException(f"no {alg} signing key: run `idp keys rotate` first")
    if check or as_json:
        emit(
            as_json,
            {
                "issuer": ctx.settings.oidc.issuer,
                "signing_key": keyring.signing_key(alg).kid,
                "bind": bind,
                "workers": workers,
            },
            "Configuration and keys are in order.",
        )
    if check:
        return
    exec_gunicorn(bind, workers)


def gunicorn_argv(bind: str | None, workers: int | None) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(Path(__file__).parents[1] / "gunicorn_conf.py"),
    ]
    if bind:
        argv += ["--bind", bind]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("idp.wsgi:app")
    return argv


def exec_gunicorn(bind: str | None, workers: int | None) -> None:
    """Replace this process with gunicorn serving ``idp.wsgi:app``."""
    # Our own interpreter and a fixed argument list: no shell, nothing from a request.
    os.execv(sys.executable, gunicorn_argv(bind, workers))  # nosec B606
