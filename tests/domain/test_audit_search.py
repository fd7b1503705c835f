"""The console's service-wide audit log: each filter finds what it says, pages go by position,
and every filter's page and count is an index range in the log's order, never the table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert

from idp.domain import audit, audit_search
from idp.domain.audit_search import Search
from idp.extensions import db
from idp.models import AuditEvent

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _event(minutes: int, action: str, **columns: Any) -> dict[str, Any]:
    return {
        "at": T0 + timedelta(minutes=minutes),
        "action": action,
        "actor_user_id": None,
        "actor": "system",
        "target_type": "",
        "target_id": "",
        "organisation_id": None,
        "ip": None,
        "details": {},
        **columns,
    }


@pytest.fixture
def history(make):
    """Two centres, a support agent, a teacher and someone else, and what happened to them."""
    aa, bb = make.org("AA101", name="AA Centre"), make.org("BB202", name="BB Centre")
    agent = make.user("agent@example.org")
    jane = make.user("jane@example.org", org=aa)
    other = make.user("other@example.org", org=bb)
    db.session.execute(delete(AuditEvent.__table__))  # what making them recorded
    events = [
        _event(0, "sign_in.succeeded", actor_user_id=jane.id, actor=jane.sub),
        _event(1, "sign_in.failed", actor_user_id=other.id, actor=other.sub),
        _event(
            2,
            "staff.sessions_ended",
            actor_user_id=agent.id,
            actor=agent.sub,
            target_type="user",
            target_id=jane.sub,
            details={"reason": "Lost phone"},
        ),
        _event(
            3,
            "staff.centre_renamed",
            actor_user_id=agent.id,
            actor=agent.sub,
            target_type="organisation",
            target_id=str(bb.id),
            organisation_id=bb.id,
        ),
        _event(
            4,
            "management.roles_changed",
            actor_user_id=jane.id,
            actor=jane.sub,
            target_type="user",
            target_id=jane.sub,
            organisation_id=aa.id,
        ),
        _event(
            5,
            "user.password_changed",
            actor_user_id=other.id,
            actor=other.sub,
            target_type="user",
            target_id=other.sub,
        ),
    ]
    db.session.execute(insert(AuditEvent.__table__), events)
    db.session.commit()
    return {"aa": aa, "bb": bb, "agent": agent, "jane": jane, "other": other}


def _actions(s: Search, **where: Any) -> list[str]:
    return [r.action for r in audit_search.page(s, **where).rows]


def test_a_person_is_everything_by_or_about_them_once_each(history):
    jane = history["jane"]
    assert _actions(Search(person=jane)) == [
        "management.roles_changed",  # by her, about her: once
        "staff.sessions_ended",  # about her, by the agent
        "sign_in.succeeded",
    ]
    assert audit_search.page(Search(person=jane)).total == 3


def test_each_filter_finds_what_it_names(history):
    h = history
    assert _actions(Search(organisation_id=h["bb"].id)) == ["staff.centre_renamed"]
    assert _actions(Search(action="staff.")) == ["staff.centre_renamed", "staff.sessions_ended"]
    assert _actions(Search(action="sign_in.failed")) == ["sign_in.failed"]
    assert _actions(Search(action="nothing.")) == []
    assert _actions(Search(actor=h["agent"])) == ["staff.centre_renamed", "staff.sessions_ended"]
    window = Search(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert _actions(window) == ["staff.sessions_ended", "sign_in.failed"]
    # Together they narrow each other.
    assert _actions(Search(person=h["jane"], actor=h["agent"])) == ["staff.sessions_ended"]
    assert _actions(Search(person=h["jane"], action="sign_in.")) == ["sign_in.succeeded"]
    assert _actions(Search(actor=h["agent"], organisation_id=h["bb"].id)) == [
        "staff.centre_renamed"
    ]
    assert _actions(Search(action="user.", organisation_id=h["aa"].id)) == []
    assert len(_actions(Search())) == 6


def test_finding_people_and_centres_by_what_the_agent_types(history):
    assert audit_search.find_person(" JANE@example.org ") == history["jane"]
    assert audit_search.find_person("nobody@example.org") is None
    assert audit_search.find_centre(" bb202") == history["bb"]
    assert audit_search.find_centre("ZZ999") is None


def test_pages_go_by_position_and_the_count_stops_at_the_cap(history, monkeypatch):
    first = audit_search.page(Search(), size=4)
    assert [r.action for r in first.rows][0] == "user.password_changed"
    assert first.newer is None and first.older is not None
    second = audit_search.page(Search(), size=4, before=first.older)
    assert [r.id for r in second.rows] == [r.id for r in audit_search.page(Search()).rows][4:]
    assert second.older is None and second.newer is not None
    back = audit_search.page(Search(), size=4, after=second.newer)
    assert [r.id for r in back.rows] == [r.id for r in first.rows]
    oldest = audit_search.page(Search(), size=4, oldest=True)
    everything = [r.id for r in audit_search.page(Search()).rows]
    assert [r.id for r in oldest.rows] == everything[-4:]
    monkeypatch.setattr(audit, "COUNT_CAP", 3)
    assert audit_search.page(Search()).total == 4  # "more than 3"


def test_the_stream_is_every_event_oldest_first_in_batches(history):
    streamed = [r.action for r in audit_search.stream(Search(), batch=2)]
    assert streamed == [r.action for r in audit_search.page(Search()).rows][::-1]
    assert [r.action for r in audit_search.stream(Search(action="staff."), batch=1)] == [
        "staff.sessions_ended",
        "staff.centre_renamed",
    ]
    assert list(audit_search.stream(Search(action="nothing."))) == []


def _plan(statement: Any) -> str:
    """The database's plan for ``statement`` (its values written in)."""
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        return "\n".join(row[3] for row in rows)
    # An empty table is cheapest to read whole: told not to, the planner shows which index
    # serves the query, and in which order.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql).all())


def _table_read(plan: str) -> bool:
    """Whether the plan reads the table itself rather than an index (an unbounded index walk,
    stopped by the LIMIT, is what the unfiltered log is)."""
    return bool(re.search(r"SCAN audit_events(?! USING (COVERING )?INDEX)", plan)) or (
        "Seq Scan" in plan
    )


FILTERS = {
    "person": (
        lambda h: Search(person=h["jane"]),
        {"ix_audit_events_actor_at", "ix_audit_events_target_at"},
    ),
    "actor": (lambda h: Search(actor=h["agent"]), {"ix_audit_events_actor_at"}),
    "centre": (lambda h: Search(organisation_id=h["aa"].id), {"ix_audit_events_organisation_at"}),
    "action": (lambda h: Search(action="staff."), {"ix_audit_events_action_at"}),
    "date": (lambda h: Search(since=T0, until=T0 + timedelta(days=1)), {"ix_audit_events_at_id"}),
    "none": (lambda h: Search(), {"ix_audit_events_at_id"}),
}


@pytest.fixture
def analysed(history):
    """The history among 20,000 older events of others, with the statistics a planner reads:
    on a table of six rows, reading it whole would be as cheap as any index."""
    filler = [
        _event(-1 - n, ("sign_in.succeeded", "user.password_changed")[n % 2], target_id=f"t{n}")
        for n in range(20_000)
    ]
    db.session.execute(insert(AuditEvent.__table__), filler)
    db.session.commit()
    connection = db.session.connection()
    connection.exec_driver_sql("ANALYZE audit_events")
    db.session.commit()
    yield history
    if not _pg():
        # SQLite keeps the statistics in the database file, and the tables are emptied, not
        # dropped, between tests: forget them, or a later test's planner would read these.
        connection = db.session.connection()
        connection.exec_driver_sql("DELETE FROM sqlite_stat1")
        connection.exec_driver_sql("ANALYZE sqlite_schema")
        db.session.commit()


def _pg() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_reads_an_index_range_in_the_logs_order(analysed, name):
    search, indexes = FILTERS[name]
    found = audit_search.paths(search(analysed))
    position = audit.Position(T0 + timedelta(minutes=3), 10**6)
    for path in found:
        for statement in (
            audit.cut_short(path, 51),
            audit.cut_short(audit.older_than(path, position), 51),
            audit.cut_short(audit.newer_than(path, position), 51, oldest=True),
        ):
            plan = _plan(statement)
            assert any(i in plan for i in indexes), plan
            # One range of the index, read in its order: never the table, never a sort.
            assert not _table_read(plan), plan
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    plan = _plan(audit.counted(found))
    # The count reads the same ranges (all of them, for the whole log: any index will do).
    assert name == "none" or {i for i in indexes if i in plan} == indexes, plan
    assert not _table_read(plan), plan


def test_the_kinds_of_event_are_found_by_seeks_not_by_reading_the_events(history):
    assert audit_search.actions("staff.") == ["staff.centre_renamed", "staff.sessions_ended"]
    assert "sign_in.failed" in audit_search.actions("")
    plan = _plan(audit_search._DISTINCT_ACTIONS.bindparams(most=audit_search.MAX_ACTIONS))
    assert "ix_audit_events_action" in plan, plan
    assert not _table_read(plan), plan
