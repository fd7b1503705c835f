"""Serve one demo service under gunicorn: ``python -m clients.run submit-for-assessment``.

Reads ``RP_ISSUER`` (default http://127.0.0.1:5000), ``RP_CLIENT_SECRET`` (required) and
``RP_PORT`` (default: the service's demo port) from the environment.
"""

from __future__ import annotations

import os
import sys

from flask import Flask

from clients.rp import create_rp_app
from clients.services import PORTS, SERVICES


def app(name: str) -> Flask:
    """The WSGI app of one service, configured from the environment (gunicorn's factory)."""
    port = int(os.environ.get("RP_PORT", PORTS[name]))
    return create_rp_app(
        SERVICES[name],
        issuer=os.environ.get("RP_ISSUER", "http://127.0.0.1:5000"),
        client_secret=os.environ["RP_CLIENT_SECRET"],
        base_url=f"http://127.0.0.1:{port}",
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in SERVICES:
        print(f"usage: python -m clients.run {{{'|'.join(SERVICES)}}}", file=sys.stderr)
        return 2
    name = args[0]
    secret = os.environ.get("RP_CLIENT_SECRET")
    if not secret:
        print("clients.run: RP_CLIENT_SECRET is not set", file=sys.stderr)
        return 2
    port = int(os.environ.get("RP_PORT", PORTS[name]))
    serve(f"clients.run:app({name!r})", port)
    return 0  # not reached: serve replaces this process


def serve(app: str, port: int) -> None:
    """Replace this process with gunicorn serving the WSGI ``app`` (a gunicorn app spec) on
    loopback ``port``: one worker, whose threads share what the demo keeps in memory (a
    service's records, the stand-in's codes and tokens)."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
        "--log-level",
        "warning",
        # The control socket's default path is one per user: every demo gunicorn would share it.
        "--no-control-socket",
        app,
    ]
    # Our own interpreter and a fixed argument list: no shell.
    os.execv(sys.executable, argv)  # nosec B606


if __name__ == "__main__":
    raise SystemExit(main())
