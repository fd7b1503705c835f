"""Prepared statements answer what SQLAlchemy would, inside the session's transaction, and
fail the way SQLAlchemy fails."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import exc, insert, select, text
from sqlalchemy.dialects import sqlite

from idp import clock
from idp.extensions import db
from idp.models import Token, UserStatus
from idp.oidc import store
from idp.security import token_hash
from idp.statements import Prepared
from tests.conftest import PG_URL

tokens_t = Token.__table__


def token_values(client_id: str, user_id: int | None, access: str) -> dict:
    now = clock.now()
    return {
        "family_id": "family-" + access,
        "client_id": client_id,
        "user_id": user_id,
        "sid": None,
        "organisation_id": None,
        "scope": "openid email",
        "access_token_hash": token_hash(access),
        "refresh_token_hash": token_hash("refresh-" + access),
        "issued_at": now,
        "access_expires_at": now + timedelta(minutes=5),
        "refresh_expires_at": now + timedelta(days=1),
        "auth_time": int(now.timestamp()),
        "acr": "1",
        "amr": ["pwd", "otp"],
        "claims_request": {"userinfo": {"email": None}},
    }


@pytest.fixture
def teacher(make):
    centre = make.org("AA101", name="AA Dummy Centre A (CIC)")
    return make.user("teacher@example.org", org=centre, roles=("sfa.teacher",))


def test_rows_match_what_sqlalchemy_returns(app, make, teacher):
    client = make.client()
    store.insert_token(token_values(client.client_id, teacher.id, "a1"))
    db.session.commit()

    mine = store.token_by_refresh("refresh-a1")
    theirs = db.session.execute(store._BY_REFRESH.statement, {"digest": token_hash("refresh-a1")})
    expected = theirs.first()
    assert mine is not None and expected is not None
    assert tuple(mine) == tuple(expected)
    assert mine._fields == tuple(expected._fields)
    # Types come back as the columns say: aware UTC datetimes, decoded JSON, enums.
    assert mine.issued_at.tzinfo == UTC
    assert mine.amr == ["pwd", "otp"]
    assert mine.claims_request == {"userinfo": {"email": None}}
    assert mine.user_status == UserStatus.ACTIVE
    assert mine.user_email == "teacher@example.org"

    info = store.client(client.client_id)
    assert info is not None and info.redirect_uris == tuple(client.model.redirect_uris)
    assert store.client("no-such-client") is None
    [membership] = store.memberships(teacher.id)
    assert membership.code == "AA101" and membership.role_keys == {"sfa.teacher"}


def test_writes_belong_to_the_session_transaction(app, make, teacher):
    client = make.client()
    store.insert_token(token_values(client.client_id, teacher.id, "b1"))
    row = store.token_by_access("b1")
    assert row is not None
    db.session.rollback()
    assert store.token_by_access("b1") is None

    store.insert_token(token_values(client.client_id, teacher.id, "b2"))
    db.session.commit()
    row = store.token_by_access("b2")
    assert store.rotate_refresh(row.id) is True
    assert store.rotate_refresh(row.id) is False  # already rotated: exactly one winner
    db.session.commit()
    assert (
        db.session.scalar(select(tokens_t.c.refresh_revoked_at).where(tokens_t.c.id == row.id))
        is not None
    )


def test_driver_errors_surface_as_sqlalchemy_errors_and_roll_back(app, make, teacher):
    client = make.client()
    store.insert_token(token_values(client.client_id, teacher.id, "c1"))
    db.session.commit()
    with pytest.raises(exc.IntegrityError):
        store.insert_token(token_values(client.client_id, teacher.id, "c1"))  # same digest
    db.session.rollback()
    assert store.token_by_access("c1") is not None  # the session is usable again


def test_an_insert_must_name_every_column_with_a_default():
    statement = Prepared(insert(tokens_t), ["family_id", "client_id"])
    with pytest.raises(ValueError, match="lacks values for .*issued_at"):
        statement._compile(sqlite.dialect())


def end_the_sessions_backend() -> None:
    """End, from another connection, the PostgreSQL backend serving ``db.session``."""
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@pytest.mark.skipif(not PG_URL, reason="a lost connection is a PostgreSQL matter")
def test_a_lost_connection_is_an_operational_error_and_the_next_statement_reconnects(app, make):
    client = make.client()
    db.session.commit()
    assert store.client(client.client_id) is not None
    end_the_sessions_backend()
    with pytest.raises(exc.OperationalError) as raised:
        store.client(client.client_id)
    assert raised.value.connection_invalidated
    db.session.rollback()
    assert store.client(client.client_id) is not None  # a fresh connection from the pool


@pytest.mark.skipif(not PG_URL, reason="a lost connection is a PostgreSQL matter")
def test_a_connection_lost_after_the_last_statement_does_not_fail_the_request(app):
    # As when the database restarts between a request's last statement and its teardown.
    context = app.app_context()
    context.push()
    end_the_sessions_backend()
    context.pop()  # Flask-SQLAlchemy's rollback on the dead connection would raise here
    with app.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_a_statement_sees_the_orm_changes_made_before_it(app, make, teacher):
    client = make.client()
    db.session.commit()
    client.model.name = "Renamed before the read"  # pending in the ORM session, not flushed
    info = store.client(client.client_id)
    assert info is not None and info.name == "Renamed before the read"
    with db.session.no_autoflush:
        client.model.name = "Not yet"
        assert store.client(client.client_id).name == "Renamed before the read"
