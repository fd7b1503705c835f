"""``idp maintenance``: housekeeping (purging expired records)."""

from __future__ import annotations

from idp.cli.base import Context, cli, emit, json_option, with_app


@cli.group("maintenance")
def maintenance_group() -> None:
    """Housekeeping, safe to run from cron on every instance."""


@maintenance_group.command("purge")
@json_option
@with_app
def maintenance_purge(ctx: Context, as_json: bool) -> None:
    """Delete expired codes, tokens, sessions and other short-lived records."""
    from idp.domain import maintenance

    counts = maintenance.purge(ctx.settings)  # commits each batch itself
    emit(
        as_json,
        counts,
        "\n".join(f"{name}: {count} deleted" for name, count in counts.items()),
    )
