"""Fixtures: a real database (SQLite, or PostgreSQL when IDP_TEST_DATABASE_URL is set), the
schema built by the real migrations, a signing key, and a fresh app per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from idp import clock, create_app
from idp.cli import Context, cli
from idp.extensions import db
from tests.factories import Factories
from tests.mailbox import Mailbox, free_port, start_server
from tests.servers import idp_serve, live_server_environment

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
# Tables whose rows survive between tests: the schema's own bookkeeping and the signing keys
# (generating an RSA key per test would dominate the run time).
KEEP = {"alembic_version", "signing_keys", "services", "roles"}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return PG_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "idp-test.sqlite3")


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int, Mailbox]]:
    """A real SMTP server on loopback: every email the tests cause goes through it."""
    controller, mailbox, port = start_server()
    try:
        yield "127.0.0.1", port, mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[str, int, Mailbox]) -> Iterator[Mailbox]:
    box = smtp_server[2]
    box.clear()
    yield box
    box.clear()


@pytest.fixture(scope="session")
def base_overrides(
    database_url: str,
    keys_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "OIDC": {"ISSUER": "http://localhost", "KEYS_DIR": str(keys_dir)},
        # Cheap hashing keeps the suite fast; the cost is configuration, not code. Protocol
        # tests sign in with a password alone; the tests of the sign-in steps turn
        # new-device verification back on.
        "AUTH": {
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_TIME_COST": 1,
            "NEW_DEVICE_VERIFICATION": "never",
            # The role policy (a passkey for User Management, Global Listening) is tested on
            # its own (tests/web/test_passkey_policy.py); elsewhere officers sign in as before.
            "PHISHING_RESISTANT_ROLES": "",
        },
        # Throttling is off for the suite (every test client is one address); the tests of
        # throttling turn it on.
        "RATE_LIMITS": {"ENABLED": False},
        "MAIL": {
            "BACKEND": "smtp",
            "HOST": smtp_server[0],
            "PORT": smtp_server[1],
            "RETRY_DELAY": 0.01,
            "OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox")),
        },
    }


@pytest.fixture(scope="session")
def _schema(base_overrides: dict[str, Any]) -> None:
    """Build the schema once, with the migrations an operator runs, and make one signing key."""
    from idp.cli import upgrade_schema
    from idp.domain import catalogue

    app = create_app(base_overrides)
    with app.app_context():
        upgrade_schema()
        catalogue.sync(app.extensions["idp.settings"].catalogue)
        db.session.commit()
        app.extensions["idp.keyring"].rotate("RS256")
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def overrides(base_overrides: dict[str, Any]) -> dict[str, Any]:
    """Per-test settings; a test may change them before asking for ``app``."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in base_overrides.items()}


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (so its own ``g`` and database session), as it
    would in production, even while the test holds an app context of its own."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # Buffered, a response is closed as soon as it is read, as a real server closes it
        # once sent: work deferred until then (mail delivery) happens before the call returns.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(_schema: None, overrides: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(overrides)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
    clock.reset()


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def make_app(_schema: None) -> Iterator[Any]:
    """Build further apps on the same database (other settings); their connections are
    closed at the end of the test."""
    built: list[Flask] = []

    def build(overrides: dict[str, Any]) -> Flask:
        other = create_app(overrides)
        other.test_client_class = IsolatedClient
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(_schema, base_overrides, smtp_server, tmp_path_factory) -> Iterator[str]:
    """``idp serve`` (gunicorn, two workers) on a loopback port, on the tests' database and SMTP
    server; the tests that use it are marked slow."""
    port = free_port()
    env = live_server_environment(base_overrides, smtp_server, tmp_path_factory, port)
    log = tmp_path_factory.mktemp("live-log") / "server.log"
    with idp_serve(env, port, log, cwd=Path(base_overrides["INSTANCE_DIR"]), workers=2) as base:
        yield base


@pytest.fixture
def make(app: Flask) -> Factories:
    return Factories(app)


@pytest.fixture
def run(app: Flask, overrides: dict[str, Any]) -> Any:
    """Run an ``idp`` command as the operator would, against the test database: its result."""

    def invoke(*args: str, input: str | None = None) -> Any:
        ctx = Context()
        ctx.overrides = overrides
        result = CliRunner().invoke(cli, list(args), obj=ctx, input=input)
        if ctx._app is not None:
            with ctx._app.app_context():
                db.engine.dispose()
        return result

    return invoke


@pytest.fixture
def sign_in_staff(client: FlaskClient, make: Factories) -> Callable[..., Any]:
    """Sign a new member of staff in, as the console needs: with a password, then adding the
    passkey their role requires, then confirming with it. Returns (user, authenticator)."""
    from idp.models import StaffRole
    from tests.passkey_authenticator import Authenticator
    from tests.passkeys import ready_for_console

    def go(
        address: str = "ops@example.org",
        role: str = StaffRole.OPERATOR,
        browser: FlaskClient | None = None,
        **names: str,
    ) -> tuple[Any, Authenticator]:
        user = make.user(address, **names)
        user.staff_role = role
        db.session.commit()
        return user, ready_for_console(browser or client, address)

    return go


@pytest.fixture
def operator(client: FlaskClient, sign_in_staff: Callable[..., Any]) -> FlaskClient:
    """A browser signed in as an operator, with a passkey (as the console needs)."""
    sign_in_staff()
    return client
