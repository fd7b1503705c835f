"""``idp demo``: set up a demo instance and run it with its services and a stand-in for Google."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from idp.cli.base import Context, cli, emit, json_option
from idp.cli.db import upgrade_schema
from idp.cli.serve import gunicorn_argv
from idp.config import Settings
from idp.extensions import db


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
    # By name on this machine: browsers refuse passkeys on an IP address.
    host, _colon, port = bind.rpartition(":")
    named = "localhost" if _this_machine(host) else host
    os.environ.setdefault("IDP_OIDC__ISSUER", f"http://{named}:{port}")
    with ctx.app.app_context():
        from idp.domain import catalogue, clients
        from idp.domain import demo as demo_data

        upgrade_schema()
        catalogue.sync(ctx.settings.catalogue)
        db.session.commit()
        keyring = ctx.keyring
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


def _this_machine(host: str) -> bool:
    """A loopback address, or the unspecified one (every interface of this machine)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
