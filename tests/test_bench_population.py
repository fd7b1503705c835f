"""The scale benchmark's population is one the provider itself accepts: its people sign in,
its officers manage their centres, the Associate's officer acts for 200 associate centres, the
audit log shows the members' sign-ins, and the purge finds the expired tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from bench.population import (
    PASSWORD,
    Generator,
    Shape,
    load_postgresql,
    load_sqlite,
)
from idp.domain import acting, audit, maintenance, management, users
from idp.extensions import db
from idp.models import Membership, Organisation, Token, User
from idp.security import passwords
from tests.factories import Factories

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SHAPE = Shape(users=700, centres=205, events=4000, tokens=600, associates=1)


@pytest.fixture
def loaded(app: Flask, make: Factories):
    client = make.client()
    db.session.commit()
    generator = Generator(SHAPE, passwords().hash(PASSWORD), client.client_id, datetime.now(UTC))
    url = app.extensions["idp.settings"].database_url
    if url.startswith("sqlite"):
        population = load_sqlite(url.removeprefix("sqlite:///"), generator)
    else:
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        population = load_postgresql(plain, generator)
    db.session.expire_all()
    return population


def sign_in(app: Flask, email: str):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    assert token is not None
    response = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 302, f"{email} could not sign in"
    return client


def test_the_officer_of_the_large_centre_manages_its_members(app: Flask, loaded) -> None:
    officer = sign_in(app, loaded.officer_email)
    page = officer.get(f"/organisation/{loaded.large_centre}/users")
    assert page.status_code == 200
    org = db.session.scalar(select(Organisation).where(Organisation.code == loaded.large_centre))
    assert org is not None
    members = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.organisation_id == org.id)
    )
    assert SHAPE.measured_size <= members < SHAPE.measured_size * 1.2
    assert f"of {members}" in page.get_data(as_text=True).replace(",", "")


def test_members_sign_in_and_subjects_look_like_the_providers(app: Flask, loaded) -> None:
    sign_in(app, loaded.member_emails[0])
    sign_in(app, loaded.member_emails[-1])
    subs = db.session.scalars(select(User.sub)).all()
    assert len(subs) == len(set(subs)) == SHAPE.users
    assert all(re.fullmatch(r"u_[A-Za-z0-9_-]{22}", s) for s in subs)


def test_the_associates_officer_acts_for_its_200_centres(app: Flask, loaded) -> None:
    catalogue = app.extensions["idp.settings"].catalogue
    user = users.find_by_email(loaded.associate_officer_email)
    assert user is not None
    assert len(management.manageable(user, catalogue)) == 1 + SHAPE.big_associate_centres
    associate = sign_in(app, loaded.associate_officer_email)
    page = associate.get("/change-organisation").get_data(as_text=True)
    assert len(set(re.findall(r"SC\d{5}", page))) == 1 + SHAPE.big_associate_centres
    assert len(acting.choices(user, catalogue)) >= 1 + SHAPE.big_associate_centres


def test_about_one_in_twenty_belongs_to_two_centres(app: Flask, loaded) -> None:
    memberships = db.session.scalar(select(func.count()).select_from(Membership))
    assert SHAPE.users * 1.03 < memberships < SHAPE.users * 1.06


def test_the_audit_log_shows_members_sign_ins_and_centre_events(app: Flask, loaded) -> None:
    org = db.session.scalar(select(Organisation).where(Organisation.code == loaded.large_centre))
    assert org is not None
    found = audit.page(org.id, audit.Filter(), size=1000)
    actions = {r.action for r in found.rows}
    assert found.total > 50
    assert "sign_in.succeeded" in actions
    assert any(a.startswith("management.") for a in actions)


def test_the_purge_deletes_the_expired_tokens_only(app: Flask, loaded) -> None:
    deleted = maintenance.purge(app.extensions["idp.settings"])
    left = db.session.scalar(select(func.count()).select_from(Token))
    assert deleted["tokens"] + left == SHAPE.tokens
    assert 0.6 * SHAPE.tokens < deleted["tokens"] < 0.75 * SHAPE.tokens
