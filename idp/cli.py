"""The operator's command line: ``idp --help``.

Every command takes ``--json`` for machine-readable output, and fails with one line on
standard error and a non-zero exit status.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask

from idp import create_app
from idp.config import ConfigError, Settings
from idp.errors import DomainError, NotFound
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
                raise click.ClickException(exc.message) from None

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


# -- db -------------------------------------------------------------------------------


@cli.group("db")
def db_group() -> None:
    """Create or upgrade the database schema."""


@db_group.command("upgrade")
@json_option
@with_app
def db_upgrade(ctx: Context, as_json: bool) -> None:
    """Apply every migration, then copy the service catalogue into the database."""
    from idp.domain import catalogue

    revision = upgrade_schema()
    counts = catalogue.sync(ctx.settings.catalogue)
    db.session.commit()
    emit(
        as_json,
        {"revision": revision, **counts},
        f"Database at revision {revision}; {counts['services']} services, {counts['roles']} roles.",
    )


def upgrade_schema() -> str:
    import logging

    from alembic.runtime.migration import MigrationContext
    from flask_migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or "base"


def _sqlite_path(ctx: Context) -> str:
    url = ctx.settings.database_url
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        raise click.ClickException(
            "backup and restore are for the SQLite database; for PostgreSQL use its own tools: "
            "pg_dump -Fc -f idp.dump DB and pg_restore --clean -d DB idp.dump"
        )
    return url.removeprefix("sqlite:///")


@db_group.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
@json_option
@with_app
def db_backup(ctx: Context, target: str, as_json: bool) -> None:
    """Copy the SQLite database to TARGET while the provider keeps running (SQLite's online
    backup: a consistent copy, written pages and all). Back up keys/ beside it."""
    import os
    import sqlite3

    source = _sqlite_path(ctx)
    if os.path.exists(target):
        raise click.ClickException(f"{target} exists; choose a new file")
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
        (check,) = copy.execute("PRAGMA integrity_check").fetchone()
    os.chmod(target, 0o600)
    emit(as_json, {"backup": target, "integrity": check}, f"Backed up to {target} ({check}).")


@db_group.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@json_option
@with_app
def db_restore(ctx: Context, source: str, as_json: bool) -> None:
    """Replace the SQLite database's contents with the backup SOURCE (checked first), then
    upgrade it to this release's schema. Stop the provider first."""
    import sqlite3

    target = _sqlite_path(ctx)
    with sqlite3.connect(source) as backup:
        try:
            (check,) = backup.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"{source} is not a usable backup: {exc}") from None
        if check != "ok":
            raise click.ClickException(f"{source} is damaged: {check}")
        db.engine.dispose()
        with sqlite3.connect(target) as live:
            backup.backup(live)
    revision = upgrade_schema()
    emit(
        as_json,
        {"restored": source, "revision": revision},
        f"Restored {source}; database at revision {revision}.",
    )


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the schema change does.")
@json_option
@with_app
def db_revision(ctx: Context, message: str, as_json: bool) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    script = command.revision(config, message=message, autogenerate=True)
    path = getattr(script, "path", None)
    emit(
        as_json,
        {"revision": getattr(script, "revision", None), "path": path},
        f"Wrote {path}." if path else "No schema changes.",
    )


# -- organisations --------------------------------------------------------------------


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
    from sqlalchemy import select

    from idp.models import Organisation

    orgs = db.session.scalars(select(Organisation).order_by(Organisation.code)).all()
    emit(
        as_json,
        [_org_json(o) for o in orgs],
        "\n".join(f"{o.code}\t{o.name}\t{o.brand}" for o in orgs) or "No organisations.",
    )


# -- users ----------------------------------------------------------------------------


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
@click.option("--off", is_flag=True, help="Take the operator's pages away again.")
@json_option
@with_app
def users_set_operator(ctx: Context, email: str, off: bool, as_json: bool) -> None:
    """Let an account use the operators' pages (clients), or stop it."""
    from idp.domain import audit, users

    user = users.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with the email address {email!r}.")
    user.is_operator = not off
    audit.record(
        "user.operator_set", target_type="user", target_id=user.sub, operator=user.is_operator
    )
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


# -- audit ----------------------------------------------------------------------------


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
    for event in audit.stream(f):
        if organisation_id is None or event["organisation_id"] == organisation_id:
            click.echo(json.dumps(event, separators=(",", ":"), default=str))


# -- clients --------------------------------------------------------------------------


@cli.group("clients")
def clients_group() -> None:
    """Relying parties (OAuth clients)."""


@clients_group.command("create")
@click.option("--name", required=True)
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, required=True, help="Repeat for several."
)
@click.option(
    "--post-logout-redirect-uri", "post_logout", multiple=True, help="Repeat for several."
)
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE required).")
@click.option(
    "--service", "services", multiple=True, help="Catalogue service key; repeat for several."
)
@click.option("--auth-method", type=click.Choice(["client_secret_basic", "client_secret_post"]))
@click.option(
    "--third-party", is_flag=True, help="Ask users for consent before sharing their data."
)
@click.option("--introspect", is_flag=True, help="A resource server that may introspect any token.")
@click.option("--client-id", help="Choose the client id (default: random).")
@click.option(
    "--backchannel-logout-uri", help="Where to POST logout tokens when a user's session ends."
)
@click.option(
    "--api-scope",
    "api_scopes",
    multiple=True,
    help="Let it call the API as itself (client_credentials): organisations.read, users.read.",
)
@click.option(
    "--user-data-uri", help="Where to ask whether it holds a person's data before a deletion."
)
@click.option(
    "--initiate-login-uri",
    help="Where a home page tile starts signing in at the service (on a redirect URI's origin).",
)
@click.option(
    "--id-token-alg",
    type=click.Choice(["RS256", "ES256"]),
    help="Sign its ID tokens with this algorithm (default: oidc.signing_alg).",
)
@json_option
@with_app
def clients_create(
    ctx: Context,
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout: tuple[str, ...],
    public: bool,
    services: tuple[str, ...],
    auth_method: str | None,
    third_party: bool,
    introspect: bool,
    client_id: str | None,
    backchannel_logout_uri: str | None,
    api_scopes: tuple[str, ...],
    user_data_uri: str | None,
    initiate_login_uri: str | None,
    id_token_alg: str | None,
    as_json: bool,
) -> None:
    """Register a client. The secret is printed once and stored only as a hash."""
    from idp.domain import clients

    client, secret = clients.create(
        name=name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout,
        public=public,
        service_keys=services,
        catalogue=ctx.settings.catalogue,
        auth_method=auth_method,
        first_party=not third_party,
        can_introspect=introspect,
        client_id=client_id,
        backchannel_logout_uri=backchannel_logout_uri,
        api_scopes=api_scopes,
        user_data_uri=user_data_uri,
        initiate_login_uri=initiate_login_uri,
        id_token_alg=id_token_alg,
        signing_algorithms=_keyring(ctx).signing_algorithms(),
    )
    db.session.commit()
    data = {**clients.describe(client), "client_secret": secret}
    text = f"client_id:     {client.client_id}"
    if secret:
        text += f"\nclient_secret: {secret}\n(The secret is shown only now; store it safely.)"
    emit(as_json, data, text)


@clients_group.command("token")
@click.option("--service", "services", multiple=True, help="Catalogue service key; repeat.")
@click.option("--uses", default=1, show_default=True, help="How many registrations it allows.")
@click.option("--ttl", default=86400, show_default=True, help="Lifetime in seconds.")
@json_option
@with_app
def clients_token(
    ctx: Context, services: tuple[str, ...], uses: int, ttl: int, as_json: bool
) -> None:
    """Issue an initial access token for dynamic client registration (POST /register)."""
    from idp.domain import registration

    token, row = registration.issue_initial_token(
        ttl_seconds=ttl, service_keys=services, uses=uses, catalogue=ctx.settings.catalogue
    )
    db.session.commit()
    emit(
        as_json,
        {
            "initial_access_token": token,
            "expires_at": row.expires_at.isoformat(),
            "uses": uses,
            "services": row.service_keys,
        },
        f"initial access token: {token}\n(shown only now; valid for {uses} registration(s) "
        f"until {row.expires_at:%Y-%m-%d %H:%M} UTC)",
    )


@clients_group.command("list")
@json_option
@with_app
def clients_list(ctx: Context, as_json: bool) -> None:
    """List clients."""
    from idp.domain import clients

    items = clients.all_clients()
    emit(
        as_json,
        [clients.describe(c) for c in items],
        "\n".join(
            f"{c.client_id}\t{c.name}\t{'public' if c.is_public else 'confidential'}" for c in items
        )
        or "No clients.",
    )


@clients_group.command("show")
@click.argument("client_id")
@json_option
@with_app
def clients_show(ctx: Context, client_id: str, as_json: bool) -> None:
    """Show one client."""
    from idp.domain import clients

    data = clients.describe(clients.get(client_id))
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@clients_group.command("delete")
@click.argument("client_id")
@json_option
@with_app
def clients_delete(ctx: Context, client_id: str, as_json: bool) -> None:
    """Delete a client, with its codes, tokens and consents."""
    from idp.domain import clients

    clients.delete(clients.get(client_id))
    db.session.commit()
    emit(as_json, {"deleted": client_id}, f"Deleted {client_id}.")


@clients_group.command("rotate-secret")
@click.argument("client_id")
@json_option
@with_app
def clients_rotate_secret(ctx: Context, client_id: str, as_json: bool) -> None:
    """Give a confidential client a new secret; the old one stops working at once."""
    from idp.domain import clients

    secret = clients.rotate_secret(clients.get(client_id))
    db.session.commit()
    emit(
        as_json,
        {"client_id": client_id, "client_secret": secret},
        f"client_secret: {secret}\n(The secret is shown only now; store it safely.)",
    )


@clients_group.command("api-access")
@click.argument("client_id")
@click.option(
    "--scope", "scopes", multiple=True, help="organisations.read, users.read; none: no access."
)
@json_option
@with_app
def clients_api_access(
    ctx: Context, client_id: str, scopes: tuple[str, ...], as_json: bool
) -> None:
    """Set exactly which API scopes a client may ask for with client_credentials. Tokens it
    already holds for itself stop working."""
    from idp.domain import clients

    client = clients.get(client_id)
    clients.set_api_access(client, scopes)
    db.session.commit()
    granted = clients.api_scopes_of(client.scope)
    emit(
        as_json,
        {"client_id": client_id, "api_scopes": granted},
        f"{client.name}: API scopes {', '.join(granted) or 'none'}.",
    )


@clients_group.command("data-holder")
@click.argument("client_id")
@click.option("--uri", help="The service's user-data endpoint; omit to stop asking it.")
@json_option
@with_app
def clients_data_holder(ctx: Context, client_id: str, uri: str | None, as_json: bool) -> None:
    """Set where the provider asks a service whether it holds a person's data."""
    from idp.domain import clients

    client = clients.get(client_id)
    clients.set_user_data_uri(client, uri)
    db.session.commit()
    emit(
        as_json,
        {"client_id": client_id, "user_data_uri": client.user_data_uri},
        f"{client.name}: user data URI {client.user_data_uri or 'none'}.",
    )


@clients_group.command("initiate-login")
@click.argument("client_id")
@click.option("--uri", help="The service's initiate login URI; omit to remove it.")
@json_option
@with_app
def clients_initiate_login(ctx: Context, client_id: str, uri: str | None, as_json: bool) -> None:
    """Set where a home page tile starts signing in at the service (OpenID Connect third-party
    initiated login); without one, the tile opens the service's page."""
    from idp.domain import clients

    client = clients.get(client_id)
    clients.set_initiate_login_uri(client, uri)
    db.session.commit()
    emit(
        as_json,
        {"client_id": client_id, "initiate_login_uri": client.initiate_login_uri},
        f"{client.name}: initiate login URI {client.initiate_login_uri or 'none'}.",
    )


@clients_group.command("id-token-alg")
@click.argument("client_id")
@click.option(
    "--alg",
    type=click.Choice(["RS256", "ES256"]),
    help="The algorithm; omit to follow the provider's default (oidc.signing_alg).",
)
@json_option
@with_app
def clients_id_token_alg(ctx: Context, client_id: str, alg: str | None, as_json: bool) -> None:
    """Choose how the client's ID tokens are signed: ES256 is quicker to sign and shorter;
    RS256 is what every OpenID Connect client can check."""
    from idp.domain import clients

    client = clients.get(client_id)
    clients.set_id_token_alg(client, alg, _keyring(ctx).signing_algorithms())
    db.session.commit()
    chosen = clients.id_token_alg(client)
    emit(
        as_json,
        {"client_id": client_id, "id_token_signed_response_alg": chosen},
        f"{client.name}: ID tokens signed with {chosen or 'the default algorithm'}.",
    )


# -- keys -----------------------------------------------------------------------------


@cli.group("keys")
def keys_group() -> None:
    """Signing keys."""


def _keyring(ctx: Context) -> Any:
    return ctx.app.extensions["idp.keyring"]


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
    row = _keyring(ctx).rotate(alg or ctx.settings.oidc.signing_alg)
    emit(as_json, _key_json(row), f"New {row.alg} signing key {row.kid}.")


@keys_group.command("prune")
@json_option
@with_app
def keys_prune(ctx: Context, as_json: bool) -> None:
    """Remove keys retired longer ago than the ID-token lifetime plus a margin."""
    oidc = ctx.settings.oidc
    retention = timedelta(seconds=oidc.id_token_ttl + oidc.key_retention_margin)
    kids = _keyring(ctx).prune(retention)
    emit(
        as_json, {"pruned": kids}, f"Pruned {len(kids)} key(s)." + "".join(f"\n  {k}" for k in kids)
    )


@keys_group.command("list")
@json_option
@with_app
def keys_list(ctx: Context, as_json: bool) -> None:
    """List signing keys."""
    rows = _keyring(ctx).rows()
    emit(
        as_json,
        [_key_json(r) for r in rows],
        "\n".join(f"{r.kid}\t{r.alg}\t{r.status}" for r in rows)
        or "No keys: run `idp keys rotate`.",
    )


# -- serving --------------------------------------------------------------------------


@cli.command("serve")
@click.option("--bind", default=None, help="host:port (default 127.0.0.1:5000 or IDP_BIND).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 2 x cores).")
@click.option("--check", is_flag=True, help="Check configuration and keys, then exit.")
@json_option
@with_app
def serve(ctx: Context, bind: str | None, workers: int | None, check: bool, as_json: bool) -> None:
    """Serve the provider with gunicorn (settings: idp/gunicorn_conf.py)."""
    keyring = _keyring(ctx)
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


@cli.command("demo")
@click.option(
    "--serve/--no-serve", "serve_after", default=True, help="Start the server afterwards."
)
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@json_option
@click.pass_obj
def demo(ctx: Context, serve_after: bool, bind: str, as_json: bool) -> None:
    """Set up and start a demo: database, signing key, centres, people and demo clients."""
    instance = Path(os.environ.get("IDP_INSTANCE_DIR", "instance")).resolve()
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # database, secret key, outbox
    secret_file = instance / "secret_key"
    key_from_file = not os.environ.get("IDP_SECRET_KEY")
    if key_from_file:
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        os.environ["IDP_SECRET_KEY"] = secret_file.read_text().strip()
    os.environ.setdefault("IDP_DEMO", "true")
    os.environ.setdefault("IDP_OIDC__ISSUER", f"http://{bind}")
    with ctx.app.app_context():
        from idp.domain import catalogue, clients
        from idp.domain import demo as demo_data

        upgrade_schema()
        catalogue.sync(ctx.settings.catalogue)
        db.session.commit()
        keyring = _keyring(ctx)
        if not keyring.has_signing_key(ctx.settings.oidc.signing_alg):
            keyring.rotate(ctx.settings.oidc.signing_alg)
        auth = ctx.settings.auth
        result = demo_data.seed(
            ctx.settings.catalogue,
            auth.password_min_length,
            auth.temporary_password_ttl,
            auth.join_invitation_ttl,
        )
        db.session.commit()
        secrets_file = instance / "demo-clients.json"
        known = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
        for client in result["clients"]:
            if client.secret:
                known[client.client_id] = client.secret
            elif client.client_id not in known:  # the secrets file was lost: issue a new one
                known[client.client_id] = clients.rotate_secret(clients.get(client.client_id))
        db.session.commit()
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh, indent=2)
        issuer = ctx.settings.oidc.issuer
        stand_in = demo_upstream(ctx.settings, instance, issuer, os.environ)
    summary = {
        "issuer": issuer,
        "password": result["password"],
        "users": result["users"],
        "invited": result["invited"],
        "accounts": [
            {"email": a.email, "name": a.name, "centres": a.centres, "try": a.try_this}
            for a in result["accounts"]
        ],
        "outbox": f"{issuer}/dev/outbox",
        "clients": [
            {"client_id": c.client_id, "redirect_uri": c.redirect_uri} for c in result["clients"]
        ],
        "services": [
            {"name": c.name, "client_id": c.client_id, "url": c.url, "port": c.port}
            for c in result["clients"]
        ],
        "client_secrets_file": str(secrets_file),
        "connected_accounts": (
            {"name": DEMO_UPSTREAM_NAME, "issuer": stand_in.issuer} if stand_in else None
        ),
        "cli": demo_cli_line(secret_file if key_from_file else None, issuer),
    }
    lines = [
        f"My Cambridge demo is ready at {issuer}",
        "",
        f"Sign in as any of these (password: {result['password']}):",
        "",
        *demo_accounts_table(result["accounts"]),
        "",
        "Demo mode sends no email: invitations and verification codes (asked for on a new",
        f"browser) are in the mail outbox at {issuer}/dev/outbox",
        "",
        "Demo services (each signs in through the provider; the home page's tiles lead there):",
        *(f"  {c.name:<32} {c.url:<24} port {c.port}" for c in result["clients"]),
        f"  (client secrets in {secrets_file})",
        "",
        f"Discovery: {issuer}/.well-known/openid-configuration",
    ]
    lines += demo_upstream_lines(stand_in)
    lines += ["", "The idp command against this demo (here, in another terminal):"]
    lines.append("  " + summary["cli"])
    emit(as_json, summary, "\n".join(lines))
    if serve_after:
        serve_demo(
            bind,
            issuer,
            [(c.client_id, c.port, known[c.client_id]) for c in result["clients"]],
            stand_in,
        )


def demo_accounts_table(accounts: list[Any]) -> list[str]:
    """The demo's accounts as a short table: account, centre, roles (by name), then what to
    try with it."""
    import textwrap

    width = max((len(a.email) for a in accounts), default=0)
    lines = [f"  {'Account':<{width}}  {'Centre':<6}  Roles", f"  {'-' * (width + 48)}"]
    for account in accounts:
        rows = [(c["code"], ", ".join(c["roles"]) or "none") for c in account.centres]
        for n, (code, roles) in enumerate(rows or [("–", "none (no centre)")]):
            wrapped = textwrap.wrap(roles, 100 - width) or [""]
            first = account.email if n == 0 else ""
            lines.append(f"  {first:<{width}}  {code:<6}  {wrapped[0]}")
            lines += [f"  {'':<{width}}  {'':<6}  {more}" for more in wrapped[1:]]
        lines += textwrap.wrap(
            account.try_this, 100, initial_indent="      → ", subsequent_indent="        "
        )
    return lines


DEMO_UPSTREAM_KEY = "google"
DEMO_UPSTREAM_NAME = "Google (demo stand-in)"
DEMO_UPSTREAM_PORT = 5110


@dataclass(frozen=True)
class StandIn:
    """The demo's stand-in for Google (``clients/upstream.py``) and its one client, the
    provider."""

    port: int
    client_id: str
    client_secret: str
    redirect_uri: str

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """What ``python -m clients.upstream`` reads."""
        return {
            "UPSTREAM_CLIENT_ID": self.client_id,
            "UPSTREAM_CLIENT_SECRET": self.client_secret,
            "UPSTREAM_REDIRECT_URI": self.redirect_uri,
            "UPSTREAM_PORT": str(self.port),
        }


def demo_upstream(
    settings: Settings,
    instance: Path,
    issuer: str,
    environ: MutableMapping[str, str],
    port: int = DEMO_UPSTREAM_PORT,
) -> StandIn | None:
    """Point the provider at the demo's stand-in for Google (through ``IDP_UPSTREAM`` in
    ``environ``, which the provider's gunicorn inherits), unless the operator configured
    connected-account providers themselves: in the config file, or in ``IDP_UPSTREAM``, even
    as an empty list. The stand-in's client id and secret are kept in
    ``instance/demo-upstream.json``."""
    if settings.upstreams or "IDP_UPSTREAM" in environ:
        return None
    path = instance / "demo-upstream.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if not known.get("client_id") or not known.get("client_secret"):
        known = {"client_id": "my-cambridge-demo", "client_secret": secrets.token_urlsafe(32)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh, indent=2)
    stand_in = StandIn(
        port=port,
        client_id=known["client_id"],
        client_secret=known["client_secret"],
        redirect_uri=f"{issuer}/login/with/{DEMO_UPSTREAM_KEY}/callback",
    )
    upstream = {
        "key": DEMO_UPSTREAM_KEY,
        "name": DEMO_UPSTREAM_NAME,
        "kind": "oidc",
        "issuer": stand_in.issuer,
        "client_id": stand_in.client_id,
        "client_secret": stand_in.client_secret,
    }
    environ["IDP_UPSTREAM"] = json.dumps([upstream])
    return stand_in


def demo_cli_line(secret_file: Path | None, issuer: str) -> str:
    """A shell line that runs ``idp`` with the demo's settings (its secret key, read from
    ``secret_file`` unless the environment gave it, and its issuer), from the current
    directory."""
    import shlex

    def here(path: Path) -> str:
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)

    idp = Path(sys.executable).with_name("idp")
    parts = []
    if secret_file is not None:
        parts.append(f"IDP_SECRET_KEY=$(cat {shlex.quote(here(secret_file))})")
    parts.append(f"IDP_OIDC__ISSUER={shlex.quote(issuer)}")
    parts.append(shlex.quote(here(idp)) if idp.exists() else "idp")
    return " ".join([*parts, "clients list"])


def demo_upstream_lines(stand_in: StandIn | None) -> list[str]:
    """What the demo's summary says about connected accounts."""
    if stand_in is None:
        return ["", "Connected accounts: as configured ([[upstream]]); no stand-in is started."]
    return [
        "",
        f"Connected accounts: {DEMO_UPSTREAM_NAME} at {stand_in.issuer} is a local stand-in,",
        "  not Google; it asks for no password, you type who you are there.",
        "  Sign in, open Account > Connected accounts and Connect it; then sign out and choose",
        f"  'Sign in with {DEMO_UPSTREAM_NAME}' on the sign-in page.",
    ]


def gunicorn_argv(bind: str | None, workers: int | None) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(Path(__file__).with_name("gunicorn_conf.py")),
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


def serve_demo(
    bind: str,
    issuer: str,
    services: list[tuple[str, int, str]],
    stand_in: StandIn | None = None,
) -> None:
    """Run the provider under gunicorn, each demo service (``python -m clients.run``) on
    its own port and the stand-in for Google (``python -m clients.upstream``), until
    interrupted; then stop them all."""
    import signal

    # Starts our own gunicorn and demo services with fixed argument lists, no shell.
    import subprocess  # nosec B404

    children = []
    for client_id, port, secret in services:
        env = {
            **os.environ,
            "RP_CLIENT_SECRET": secret,
            "RP_ISSUER": issuer,
            "RP_PORT": str(port),
        }
        children.append(
            subprocess.Popen([sys.executable, "-m", "clients.run", client_id], env=env)  # nosec B603
        )
    if stand_in is not None:
        env = {**os.environ, **stand_in.environment()}
        children.append(
            subprocess.Popen([sys.executable, "-m", "clients.upstream"], env=env)  # nosec B603
        )
    provider = subprocess.Popen(gunicorn_argv(bind, 2))  # nosec B603
    signal.signal(signal.SIGTERM, lambda *_: provider.terminate())
    try:
        provider.wait()
    except KeyboardInterrupt:
        provider.terminate()
        provider.wait()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


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


if __name__ == "__main__":
    main()
