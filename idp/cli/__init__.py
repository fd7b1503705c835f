"""The operator's command line: ``idp --help``.

Every command takes ``--json`` for machine-readable output, and fails with one line on
standard error and a non-zero exit status. ``base`` holds the root group and what every
command shares; each other module is one command group.
"""

# Importing each group's module registers its commands on ``cli``.
from idp.cli import (  # noqa: F401
    audit,
    clients,
    db,
    demo,
    keys,
    maintenance,
    orgs,
    serve,
    staff,
    users,
)
from idp.cli.base import Context, cli, main
from idp.cli.db import upgrade_schema
from idp.cli.demo import DEMO_UPSTREAM_NAME, StandIn, demo_upstream

__all__ = [
    "DEMO_UPSTREAM_NAME",
    "Context",
    "StandIn",
    "cli",
    "demo_upstream",
    "main",
    "upgrade_schema",
]
