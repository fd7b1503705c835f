"""``idp clients``: register relying parties and change how each one is set up."""

from __future__ import annotations

import click

from idp.cli.base import Context, cli, emit, json_option, with_app
from idp.extensions import db


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
        signing_algorithms=ctx.keyring.signing_algorithms(),
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
    clients.set_id_token_alg(client, alg, ctx.keyring.signing_algorithms())
    db.session.commit()
    chosen = clients.id_token_alg(client)
    emit(
        as_json,
        {"client_id": client_id, "id_token_signed_response_alg": chosen},
        f"{client.name}: ID tokens signed with {chosen or 'the default algorithm'}.",
    )
