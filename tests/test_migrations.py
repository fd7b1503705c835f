"""Upgrading from every release: for each schema revision ever shipped, the code of that
release (taken from git, run as it was) builds and populates a database with its own
``idp demo``; today's ``idp db upgrade`` then brings it to head. Nothing is lost, the schema
is exactly what today's models say, and the people and services in it still work."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, table, text

from idp import create_app
from idp.extensions import db
from tests.conftest import PG_URL
from tests.oidc_helpers import csrf_token

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
VERSIONS = "migrations/versions"
DEMO_PASSWORD = "demo-password-2026"
REVISION = re.compile(r"^revision[^=]*= ['\"]([0-9a-f]+)['\"]", re.M)
DOWN_REVISION = re.compile(r"^down_revision[^=]*= ['\"]([0-9a-f]+)['\"]", re.M)


def _git(*argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=ROOT, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def releases() -> list[tuple[str, str]]:
    """(commit, revision) for every schema revision but the newest: the last commit before the
    next migration was added, which is the last code that ran on that schema."""
    try:
        added = _git("log", "--diff-filter=A", "--format=%H", "--", VERSIONS).split()
    except (OSError, subprocess.CalledProcessError):
        return []
    points = []
    for commit in added:
        parent = _git("rev-parse", f"{commit}^").strip() if _has_parent(commit) else ""
        if not parent or not _git("ls-tree", "--name-only", parent, VERSIONS + "/").strip():
            continue
        points.append((parent, _head_revision(parent)))
    return sorted(points, key=lambda p: _git("show", "-s", "--format=%ct", p[0]))


def _has_parent(commit: str) -> bool:
    return len(_git("rev-list", "--parents", "-n", "1", commit).split()) > 1


def _head_revision(commit: str) -> str:
    """The revision no other revision of ``commit`` builds on."""
    revisions, bases = set(), set()
    for name in _git("ls-tree", "--name-only", commit, VERSIONS + "/").split():
        if not name.endswith(".py"):
            continue
        source = _git("show", f"{commit}:{name}")
        revisions.add(REVISION.search(source).group(1))
        bases.update(DOWN_REVISION.findall(source))
    (head,) = revisions - bases
    return head


RELEASES = releases()


@pytest.fixture
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind: a file, or a PostgreSQL database of its own."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'release.sqlite3'}"
        return
    parts = urlsplit(PG_URL)
    name = f"idp_release_{secrets.token_hex(4)}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _run_release(commit: str, where: Path, env: dict[str, str], *argv: str) -> None:
    """``python -m idp.cli *argv`` with the code of ``commit``, as that release shipped it."""
    if not (where / "idp").exists():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(where, filter="data")
    done = subprocess.run(
        [sys.executable, "-m", "idp.cli", *argv],
        cwd=where,
        env={**env, "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{commit[:8]} idp {' '.join(argv)}:\n{done.stderr}"


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {
                n: conn.execute(select(func.count()).select_from(table(n))).scalar_one()
                for n in names
            }
    finally:
        engine.dispose()


def _operators(url: str) -> int:
    """Accounts that run the service: the operator flag of the releases before 8e2f4a6c1d90,
    the operator staff role after it (0 before either existed)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("users")}
            if "staff_role" in columns:
                where = "staff_role = 'operator'"
            elif "is_operator" in columns:
                where = "is_operator"
            else:
                return 0
            return conn.execute(text(f"SELECT count(*) FROM users WHERE {where}")).scalar_one()
    finally:
        engine.dispose()


def _open_periods(url: str) -> int:
    """Memberships that have exactly one open period, from their creation."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM memberships m JOIN membership_periods p"
                    " ON p.user_id = m.user_id AND p.organisation_id = m.organisation_id"
                    " AND p.ended_at IS NULL AND p.started_at = m.created_at"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def test_every_release_is_found():
    if not RELEASES:
        if os.environ.get("CI"):
            pytest.fail("no git history: the upgrade tests cannot find the releases")
        pytest.skip("no git history here")
    assert len(RELEASES) == len(list((ROOT / VERSIONS).glob("*.py"))) - 1


@pytest.mark.parametrize(("commit", "revision"), RELEASES, ids=[r for _, r in RELEASES])
def test_upgrade_from_a_populated_release(commit, revision, scratch_url, base_overrides, tmp_path):
    keys, instance = tmp_path / "keys", tmp_path / "instance"
    keys.mkdir()
    instance.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_DATABASE_URL": scratch_url,
        "IDP_SECRET_KEY": secrets.token_urlsafe(40),
        "IDP_OIDC__KEYS_DIR": str(keys),
        "IDP_INSTANCE_DIR": str(instance),
    }
    _run_release(commit, tmp_path / "release", env, "demo", "--no-serve")
    before = _counts(scratch_url)
    assert before["alembic_version"] == 1 and before["users"] > 5
    operators = _operators(scratch_url)

    done = subprocess.run(
        [sys.executable, "-m", "idp.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    after = _counts(scratch_url)
    lost = {name: (n, after.get(name)) for name, n in before.items() if after.get(name, 0) < n}
    assert not lost, f"rows lost upgrading from {revision}: {lost}"
    # Every membership has its open period (d7400bfab0ca backfills them from created_at).
    assert _open_periods(scratch_url) == after["memberships"] > 0
    # Every operator stays one (8e2f4a6c1d90 turns the flag into the staff role).
    assert _operators(scratch_url) == operators

    overrides = {
        **base_overrides,
        "DATABASE_URL": scratch_url,
        "OIDC": {**base_overrides["OIDC"], "KEYS_DIR": str(keys)},
        "AUTH": {**base_overrides.get("AUTH", {}), "NEW_DEVICE_VERIFICATION": "never"},
    }
    app = create_app(overrides)
    with app.app_context():
        try:
            context = MigrationContext.configure(db.session.connection())
            assert compare_metadata(context, db.metadata) == []
            db.session.rollback()

            # The release's people sign in with the passwords they had...
            http = app.test_client()
            page = http.get("/login")
            signed_in = http.post(
                "/login",
                data={
                    "csrf_token": csrf_token(page.get_data(as_text=True)),
                    "email": "aa101.anakin@example.org",
                    "password": DEMO_PASSWORD,
                },
            )
            assert signed_in.status_code == 302
            assert "/login" not in signed_in.headers["Location"]
            # ... and its services still authenticate with the secrets they were given: a
            # made-up code is refused as invalid_grant, after the client was recognised.
            demo_clients = json.loads((instance / "demo-clients.json").read_text())
            assert demo_clients
            for client_id, secret in demo_clients.items():
                answer = http.post(
                    "/token",
                    data={"grant_type": "authorization_code", "code": "made-up"},
                    auth=(client_id, secret),
                )
                assert answer.get_json()["error"] == "invalid_grant", client_id
        finally:
            db.session.remove()
            db.engine.dispose()


def test_claims_requests_stored_for_third_party_clients_are_narrowed_to_their_scopes(
    scratch_url, base_overrides, tmp_path
):
    """c430688c151a: a claims request stored before the authorization endpoint narrowed it
    releases, after the upgrade, only what the token's scopes cover (first-party: unchanged)."""
    from datetime import UTC, datetime

    from flask_migrate import upgrade
    from sqlalchemy import JSON, Boolean, Integer, String, column

    app = create_app({**base_overrides, "DATABASE_URL": scratch_url})
    now = datetime.now(UTC).replace(tzinfo=None)
    clients = table(
        "clients",
        *(column(n, String) for n in ("client_id", "name", "token_endpoint_auth_method", "scope")),
        *(column(n, JSON) for n in ("redirect_uris", "post_logout_redirect_uris", "grant_types")),
        *(column(n, JSON) for n in ("response_types", "service_keys", "extra_metadata")),
        column("first_party", Boolean),
        column("can_introspect", Boolean),
        column("created_at"),
    )
    tokens = table(
        "tokens",
        *(column(n, String) for n in ("family_id", "client_id", "access_token_hash", "scope")),
        column("issued_at"),
        column("access_expires_at"),
        column("auth_time", Integer),
        column("amr", JSON),
        column("claims_request", JSON),
    )
    wide = {
        "userinfo": {"email": None, "name": None, "organisations": None, "acr": None},
        "id_token": {"email": {"essential": True}, "roles": None},
    }
    with app.app_context():
        try:
            upgrade(revision="a414016fa11f")
            for client_id, first_party in (("third", False), ("first", True)):
                db.session.execute(
                    clients.insert().values(
                        client_id=client_id,
                        name=client_id,
                        token_endpoint_auth_method="client_secret_basic",
                        scope="openid email profile roles organisations",
                        redirect_uris=[],
                        post_logout_redirect_uris=[],
                        grant_types=[],
                        response_types=["code"],
                        service_keys=[],
                        extra_metadata={},
                        first_party=first_party,
                        can_introspect=False,
                        created_at=now,
                    )
                )
                db.session.execute(
                    tokens.insert().values(
                        family_id=client_id,
                        client_id=client_id,
                        access_token_hash=client_id * 8,
                        scope="openid email",
                        issued_at=now,
                        access_expires_at=now,
                        auth_time=0,
                        amr=["pwd"],
                        claims_request=wide,
                    )
                )
            db.session.commit()
            upgrade()
            stored = dict(
                db.session.execute(select(tokens.c.client_id, tokens.c.claims_request)).all()
            )
        finally:
            db.session.remove()
            db.engine.dispose()
    assert stored["third"] == {
        "userinfo": {"email": None, "acr": None},
        "id_token": {"email": {"essential": True}},
    }
    assert stored["first"] == wide
