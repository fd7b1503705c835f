"""Membership periods: every way a membership begins opens one, every way it ends closes it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from idp import clock
from idp.domain import management, organisations, users
from idp.extensions import db
from idp.models import MembershipPeriod, Organisation, User, UserOrigin, UserStatus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(make):
    clock.freeze()
    aa101 = make.org("AA101")
    bb102 = make.org("BB102")
    officer = make.exams_officer(aa101)
    teacher = make.user("teacher@example.org", org=bb102, roles=("sfa.teacher",))
    return aa101, bb102, officer, teacher, make.catalogue


def _periods(person: User) -> list[tuple[str, object, object]]:
    """(centre, started, ended) for each of the person's periods, oldest first."""
    rows = db.session.execute(
        db.select(MembershipPeriod)
        .where(MembershipPeriod.user_id == person.id)
        .order_by(MembershipPeriod.started_at, MembershipPeriod.id)
    ).scalars()
    codes = {o.id: o.code for o in db.session.scalars(db.select(Organisation))}
    return [(codes[p.organisation_id], p.started_at, p.ended_at) for p in rows]


def test_joining_opens_a_period_and_a_role_change_does_not(world):
    aa101, _, _, teacher, catalogue = world
    start = clock.now()
    assert _periods(teacher) == [("BB102", start, None)]
    clock.advance(60)
    organisations.set_roles(teacher, aa101, ["sfa.teacher"], catalogue)
    db.session.commit()
    joined = clock.now()
    clock.advance(60)
    organisations.set_roles(teacher, aa101, ["sfa.exams_officer"], catalogue)
    db.session.commit()
    assert _periods(teacher) == [("BB102", start, None), ("AA101", joined, None)]


def test_removal_closes_the_period_and_joining_again_opens_another(world):
    aa101, _, officer, teacher, catalogue = world
    start = clock.now()
    clock.advance(60)
    organisations.set_roles(teacher, aa101, ["sfa.teacher"], catalogue)
    db.session.commit()
    joined = clock.now()
    clock.advance(60)
    assert management.remove(officer, aa101, teacher, catalogue) is False
    db.session.commit()
    left = clock.now()
    clock.advance(60)
    organisations.set_roles(teacher, aa101, ["sfa.teacher"], catalogue)
    db.session.commit()
    again = clock.now()
    assert _periods(teacher) == [
        ("BB102", start, None),
        ("AA101", joined, left),
        ("AA101", again, None),
    ]


def test_a_move_closes_one_period_and_opens_another(world):
    aa101, bb102, _, teacher, catalogue = world
    start = clock.now()
    clock.advance(60)
    organisations.move_member(teacher, bb102, aa101, catalogue)
    db.session.commit()
    moved = clock.now()
    assert _periods(teacher) == [("BB102", start, moved), ("AA101", moved, None)]


def test_a_deleted_account_takes_its_periods_with_it(world):
    aa101, _, officer, _, catalogue = world
    tom = users.create(
        email="tom@example.org",
        given_name="Tom",
        family_name="Teacher",
        origin=UserOrigin.INVITATION,
    )
    organisations.set_roles(tom, aa101, ["sfa.teacher"], catalogue)
    tom.status = UserStatus.SUSPENDED
    db.session.commit()
    tom_id = tom.id
    assert len(_periods(tom)) == 1
    assert management.remove(officer, aa101, tom, catalogue) is True
    db.session.commit()
    left = db.session.scalar(
        db.select(db.func.count())
        .select_from(MembershipPeriod)
        .where(MembershipPeriod.user_id == tom_id)
    )
    assert left == 0


def _membership_statements(path: Path) -> list[str]:
    """Bulk ``delete(Membership)`` / ``update(Membership)`` statements, which bypass the
    mapper events that keep the periods."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            in ("delete", "update", "insert")
            and node.args
            and "Membership" in ast.unparse(node.args[0])
            and "MembershipPeriod" not in ast.unparse(node.args[0])
        ):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_memberships_are_written_only_through_the_orm():
    """Every membership is made and ended as a row the ORM inserts or deletes, so the period
    bookkeeping (idp/models/membership_period.py) sees it; a bulk statement would not."""
    found = [hit for p in sorted((ROOT / "idp").rglob("*.py")) for hit in _membership_statements(p)]
    assert found == []


def test_the_guard_finds_a_bulk_statement(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("db.session.execute(delete(Membership).where(Membership.user_id == 1))\n")
    assert _membership_statements(sample) == ["sample.py:1"]
