"""``idp staff``: the exam board's support desk and operators, who use the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from idp.cli.base import Context, cli, emit, json_option, with_app
from idp.errors import NotFound
from idp.extensions import db

if TYPE_CHECKING:
    from idp.models import User


@cli.group("staff")
def staff_group() -> None:
    """The exam board's staff: support (people and centres) and operators (also clients,
    keys). Both sign in to the console with a passkey."""


def _person(email: str) -> User:
    from idp.domain import users

    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    return user


def _set(email: str, role_name: str, as_json: bool) -> None:
    from idp.domain import staff

    user = _person(email)
    role = staff.role_of(role_name)
    changed = staff.grant(user, role, actor_label="cli")
    db.session.commit()
    if role is None:
        text = f"{user.email} is no longer staff." if changed else f"{user.email} was not staff."
    else:
        text = (
            f"{user.email} is now {role.value} staff."
            if changed
            else f"{user.email} already was {role.value} staff."
        )
    emit(as_json, {"sub": user.sub, "email": user.email, "role": user.staff_role}, text)


@staff_group.command("grant")
@click.argument("email")
@click.option(
    "--role",
    "role_name",
    type=click.Choice(["support", "operator"]),
    required=True,
    help="support: find and help people and centres; operator: that, and clients and keys.",
)
@json_option
@with_app
def staff_grant(ctx: Context, email: str, role_name: str, as_json: bool) -> None:
    """Give an account a staff role (it must then add a passkey before the console opens)."""
    _set(email, role_name, as_json)


@staff_group.command("revoke")
@click.argument("email")
@json_option
@with_app
def staff_revoke(ctx: Context, email: str, as_json: bool) -> None:
    """Take an account's staff role away, and end its sign-in sessions."""
    _set(email, "none", as_json)


@staff_group.command("list")
@json_option
@with_app
def staff_list(ctx: Context, as_json: bool) -> None:
    """Everyone with a staff role."""
    from idp.domain import passkeys, staff

    rows = [
        {
            "sub": u.sub,
            "email": u.email,
            "name": u.name,
            "role": u.staff_role,
            "passkeys": len(passkeys.of(u)),
        }
        for u in staff.members()
    ]
    text = "\n".join(
        f"{r['role']:<9} {r['email']} ({r['name']}), passkeys: {r['passkeys']}" for r in rows
    )
    emit(as_json, rows, text or "No staff.")
