"""``idp audit``: export the audit log as JSON lines."""

from __future__ import annotations

import json

import click

from idp.cli.base import Context, cli, with_app


@cli.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("export")
@click.option("--since", help="Only events at or after this time (ISO 8601, UTC if no zone).")
@click.option("--until", help="Only events before this time.")
@click.option("--action", default="", help="Only actions starting with this, e.g. sign_in.")
@click.option("--org", "org_code", help="Only events of this organisation (centre number).")
@with_app
def audit_export(
    ctx: Context, since: str | None, until: str | None, action: str, org_code: str | None
) -> None:
    """Write events as JSON lines (one object per line, oldest first) to standard output."""
    from datetime import UTC, datetime

    from idp.domain import audit, organisations
    from idp.errors import InvalidInput

    def moment(value: str | None, name: str) -> datetime | None:
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"--{name}: not an ISO 8601 time: {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    f = audit.Filter(action=action, since=moment(since, "since"), until=moment(until, "until"))
    organisation_id = organisations.get_by_code(org_code).id if org_code else None
    for event in audit.stream(f, organisation_id=organisation_id):
        click.echo(json.dumps(event, separators=(",", ":"), default=str))
