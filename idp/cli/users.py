"""``idp users``: create accounts, make operators, move people, send invitations."""

from __future__ import annotations

import sys

import click

from idp.cli.base import Context, cli, emit, json_option, with_app
from idp.errors import NotFound
from idp.extensions import db


@cli.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--first-name", "first_name", required=True)
@click.option("--last-name", "last_name", required=True)
@click.option(
    "--password",
    help="Set a password (the account is active at once); '-' reads it from stdin. "
    "Without it the user is emailed an invitation with a temporary password.",
)
@click.option("--org", "org_code", help="Centre number to add the user to.")
@click.option("--role", "roles", multiple=True, help="Role key at --org; repeat for several.")
@json_option
@with_app
def users_create(
    ctx: Context,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None,
    org_code: str | None,
    roles: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create an account, optionally with roles at an organisation."""
    from idp.domain import invitations, organisations, users
    from idp.errors import InvalidInput

    if roles and not org_code:
        raise InvalidInput("--role needs --org.")
    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    user = users.create(
        email=email,
        given_name=first_name,
        family_name=last_name,
        password=password,
        password_min_length=ctx.settings.auth.password_min_length,
        email_verified=password is not None,
    )
    roles_out: list[str] = []
    organisation = organisations.get_by_code(org_code) if org_code else None
    if organisation is not None:
        member = organisations.set_roles(user, organisation, roles, ctx.settings.catalogue)
        roles_out = sorted(member.role_keys)
    if password is None:
        invitations.invite(
            user,
            ttl_seconds=ctx.settings.auth.temporary_password_ttl,
            organisation=organisation,
        )
    db.session.commit()
    emit(
        as_json,
        {
            "sub": user.sub,
            "email": user.email,
            "status": user.status,
            "org": org_code,
            "roles": roles_out,
            "invited": password is None,
        },
        f"Created {user.name} <{user.email}> ({user.status})"
        + ("; invitation emailed." if password is None else "."),
    )


@users_group.command("set-operator")
@click.argument("email")
@click.option("--off", is_flag=True, help="Take the staff role away again.")
@json_option
@with_app
def users_set_operator(ctx: Context, email: str, off: bool, as_json: bool) -> None:
    """The same as ``idp staff grant EMAIL --role operator`` (or ``idp staff revoke``)."""
    from idp.domain import staff, users

    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    staff.grant(user, None if off else staff.StaffRole.OPERATOR, actor_label="cli")
    db.session.commit()
    emit(
        as_json,
        {"sub": user.sub, "email": user.email, "operator": user.is_operator},
        f"{user.email} is {'now' if user.is_operator else 'no longer'} an operator.",
    )


@users_group.command("move")
@click.argument("email")
@click.option("--from", "source", required=True, help="Centre number they leave.")
@click.option("--to", "target", required=True, help="Centre number they join.")
@json_option
@with_app
def users_move(ctx: Context, email: str, source: str, target: str, as_json: bool) -> None:
    """Move a person between organisations, with the roles the new one offers."""
    from idp.domain import organisations, users

    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    moved = organisations.move_member(
        user,
        organisations.get_by_code(source),
        organisations.get_by_code(target),
        ctx.settings.catalogue,
    )
    db.session.commit()
    roles = sorted(moved.role_keys)
    emit(
        as_json,
        {"sub": user.sub, "email": user.email, "org": moved.organisation.code, "roles": roles},
        f"Moved {user.email} to {moved.organisation.code}; roles: {', '.join(roles) or 'none'}.",
    )


@users_group.command("invite")
@click.argument("email")
@json_option
@with_app
def users_invite(ctx: Context, email: str, as_json: bool) -> None:
    """Email an invited user a new temporary password (the old one stops working)."""
    from idp.domain import invitations, users

    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    invitations.invite(user, ttl_seconds=ctx.settings.auth.temporary_password_ttl)
    db.session.commit()
    expires = user.temp_password_expires_at
    emit(
        as_json,
        {
            "sub": user.sub,
            "email": user.email,
            "expires_at": expires.isoformat() if expires else None,
        },
        f"Invitation emailed to {user.email}.",
    )
