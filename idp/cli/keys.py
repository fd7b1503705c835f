"""``idp keys``: rotate, prune and list the signing keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from idp.cli.base import Context, cli, emit, json_option, with_app


@cli.group("keys")
def keys_group() -> None:
    """Signing keys."""


def _key_json(row: Any) -> dict[str, Any]:
    return {
        "kid": row.kid,
        "alg": row.alg,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
    }


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), help="Default: oidc.signing_alg.")
@json_option
@with_app
def keys_rotate(ctx: Context, alg: str | None, as_json: bool) -> None:
    """Add a key that signs from now on; the old one stays in the JWKS until pruned."""
    row = ctx.keyring.rotate(alg or ctx.settings.oidc.signing_alg)
    emit(as_json, _key_json(row), f"New {row.alg} signing key {row.kid}.")


@keys_group.command("prune")
@json_option
@with_app
def keys_prune(ctx: Context, as_json: bool) -> None:
    """Remove keys retired longer ago than the ID-token lifetime plus a margin."""
    oidc = ctx.settings.oidc
    retention = timedelta(seconds=oidc.id_token_ttl + oidc.key_retention_margin)
    kids = ctx.keyring.prune(retention)
    emit(
        as_json, {"pruned": kids}, f"Pruned {len(kids)} key(s)." + "".join(f"\n  {k}" for k in kids)
    )


@keys_group.command("list")
@json_option
@with_app
def keys_list(ctx: Context, as_json: bool) -> None:
    """List signing keys."""
    rows = ctx.keyring.rows()
    emit(
        as_json,
        [_key_json(r) for r in rows],
        "\n".join(f"{r.kid}\t{r.alg}\t{r.status}" for r in rows)
        or "No keys: run `idp keys rotate`.",
    )
