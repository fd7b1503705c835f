"""``idp orgs``: organisations (centres), their exams officers and Cambridge Associates."""

from __future__ import annotations

from typing import Any

import click

from idp.cli.base import Context, cli, emit, json_option, with_app
from idp.errors import NotFound
from idp.extensions import db


@cli.group("orgs")
def orgs_group() -> None:
    """Organisations (centres) and their exams officers."""


def _org_json(org: Any) -> dict[str, Any]:
    return {
        "code": org.code,
        "name": org.name,
        "brand": org.brand,
        "associate_of": org.parent.code if org.parent else None,
        "exams_officer": org.exams_officer.email if org.exams_officer else None,
    }


@orgs_group.command("create")
@click.option("--code", required=True, help="Centre number, e.g. AA101.")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--brand", default="cambridge-international", show_default=True)
@click.option(
    "--associate-of", "associate_of", help="Centre number of the managing Cambridge Associate."
)
@json_option
@with_app
def orgs_create(
    ctx: Context, code: str, name: str, brand: str, associate_of: str | None, as_json: bool
) -> None:
    """Create an organisation."""
    from idp.domain import organisations

    org = organisations.create(
        code=code,
        name=name,
        brand=brand,
        catalogue=ctx.settings.catalogue,
        associate_of=associate_of,
    )
    db.session.commit()
    emit(as_json, _org_json(org), f"Created {org.code} – {org.name}.")


@orgs_group.command("set-exams-officer")
@click.argument("code")
@click.argument("email")
@json_option
@with_app
def orgs_set_exams_officer(ctx: Context, code: str, email: str, as_json: bool) -> None:
    """Name the exams officer of CODE (gives User Management and Global Listening)."""
    from idp.domain import organisations, users

    org = organisations.get_by_code(code)
    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    member = organisations.set_exams_officer(org, user, ctx.settings.catalogue)
    db.session.commit()
    emit(
        as_json,
        {**_org_json(org), "roles": sorted(member.role_keys)},
        f"{user.name} is now the exams officer of {org.code}.",
    )


@orgs_group.command("set-associate")
@click.argument("code")
@click.option("--of", "parent_code", help="The Cambridge Associate that manages it.")
@click.option("--none", "detach", is_flag=True, help="Make it a stand-alone centre again.")
@json_option
@with_app
def orgs_set_associate(
    ctx: Context, code: str, parent_code: str | None, detach: bool, as_json: bool
) -> None:
    """Link a centre to the Cambridge Associate that manages it, or unlink it."""
    from idp.domain import organisations
    from idp.errors import InvalidInput

    if bool(parent_code) == detach:
        raise InvalidInput("Give either --of CODE or --none.")
    org = organisations.get_by_code(code)
    parent = organisations.get_by_code(parent_code) if parent_code else None
    organisations.set_parent(org, parent)
    db.session.commit()
    emit(
        as_json,
        _org_json(org),
        f"{org.code} is now an associate centre of {parent.code}."
        if parent
        else f"{org.code} is now a stand-alone centre.",
    )


@orgs_group.command("list")
@json_option
@with_app
def orgs_list(ctx: Context, as_json: bool) -> None:
    """List organisations."""
    from sqlalchemy import and_, select
    from sqlalchemy.orm import aliased

    from idp.models import EmailAddress, Organisation

    # One statement, whatever the number of centres: each with its parent's code and its
    # officer's primary address (10,000 centres: one query, not 30,000; no ORM objects).
    parent = aliased(Organisation)
    orgs = (
        db.session.execute(
            select(
                Organisation.code,
                Organisation.name,
                Organisation.brand,
                parent.code.label("associate_of"),
                EmailAddress.address.label("exams_officer"),
            )
            .outerjoin(parent, parent.id == Organisation.parent_id)
            .outerjoin(
                EmailAddress,
                and_(
                    EmailAddress.user_id == Organisation.exams_officer_id,
                    EmailAddress.is_primary.is_(True),
                ),
            )
            .order_by(Organisation.code)
        )
        .mappings()
        .all()
    )
    emit(
        as_json,
        [dict(o) for o in orgs],
        "\n".join(f"{o['code']}\t{o['name']}\t{o['brand']}" for o in orgs) or "No organisations.",
    )
