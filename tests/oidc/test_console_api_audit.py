"""``/api/console/audit``: the console's audit log for the exam board's own tools, with a
client_credentials token holding ``console.read`` (which only an operator grants); any other
token is refused, and no token is a 401."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert

from idp.extensions import db
from idp.models import AuditEvent
from tests.oidc_helpers import RelyingParty

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _token(rp: RelyingParty) -> str:
    raw = base64.b64encode(f"{rp.client_id}:{rp.registered.secret}".encode()).decode()
    response = rp.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


@pytest.fixture
def tool(client, make):
    """The exam board's own reporting tool, granted console.read by an operator."""
    return RelyingParty(client, make.client(api_scopes=("console.read",)))


@pytest.fixture
def events(make, centre, teacher):
    agent = make.user("desk@example.org")
    db.session.execute(delete(AuditEvent.__table__))
    rows = [
        {
            "at": T0 + timedelta(minutes=n),
            "action": action,
            "actor_user_id": who.id,
            "actor": who.sub,
            "target_type": "user",
            "target_id": teacher.sub,
            "organisation_id": centre.id if action.startswith("staff.") else None,
            "ip": "192.0.2.1",
            "details": {"reason": "Asked by phone"} if action.startswith("staff.") else {},
        }
        for n, (action, who) in enumerate(
            [
                ("sign_in.succeeded", teacher),
                ("staff.sessions_ended", agent),
                ("sign_in.failed", teacher),
                ("staff.reset_link_sent", agent),
            ]
        )
    ]
    db.session.execute(insert(AuditEvent.__table__), rows)
    db.session.commit()
    return {"agent": agent, "teacher": teacher}


def _get(rp: RelyingParty, query: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return rp.http.get("/api/console/audit" + query, headers=headers)


def test_the_log_pages_newest_first_with_a_next_token(tool, events):
    token = _token(tool)
    first = _get(tool, "?limit=3", token)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert [e["action"] for e in body["events"]] == [
        "staff.reset_link_sent",
        "sign_in.failed",
        "staff.sessions_ended",
    ]
    assert body["events"][0]["centre"] == "AA101"
    assert body["events"][0]["details"]["reason"] == "Asked by phone"
    assert body["events"][0]["actor"] == events["agent"].sub
    assert body["total"] == 4 and body["more_than_total"] is False
    rest = _get(tool, f"?limit=3&before={body['next']}", token).get_json()
    assert [e["action"] for e in rest["events"]] == ["sign_in.succeeded"]
    assert rest["next"] is None


def test_each_filter_as_the_console_has_it(tool, events):
    token = _token(tool)

    def actions(query: str) -> list[str]:
        response = _get(tool, query, token)
        assert response.status_code == 200, response.get_json()
        return [e["action"] for e in response.get_json()["events"]]

    assert actions("?actor=desk@example.org") == ["staff.reset_link_sent", "staff.sessions_ended"]
    assert actions("?person=teacher@example.org&action=sign_in.") == [
        "sign_in.failed",
        "sign_in.succeeded",
    ]
    assert actions("?centre=aa101&action=staff.reset") == ["staff.reset_link_sent"]
    assert actions("?since=2026-11-01&until=2026-11-01") != []
    assert actions("?until=2026-10-31") == []
    assert actions("?person=nobody@example.org") == []
    assert actions("?centre=ZZ999") == []


def test_bad_queries_are_invalid_requests_not_errors(tool, events):
    token = _token(tool)
    for query in (
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?since=yesterday",
        "?until=9999-12-31",
        "?before=12.x",
        "?action=%27%20OR%201=1",
    ):
        response = _get(tool, query, token)
        assert response.status_code == 400, query
        assert response.get_json()["error"] == "invalid_request", query


def test_without_console_read_or_without_a_token_it_is_refused(client, make, tool, events):
    other = RelyingParty(client, make.client(api_scopes=("users.read",)))
    refused = _get(other, "", _token(other))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "insufficient_scope"
    missing = _get(tool, "", None)
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert _get(tool, "", "not-a-token").status_code == 401
