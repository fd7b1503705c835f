"""``GET /api/console/audit``: the service-wide audit log, as the console's page filters it.

Query: ``person`` and ``actor`` (email addresses), ``centre`` (a centre number), ``action`` (a
prefix of the action), ``since`` and ``until`` (dates, ``YYYY-MM-DD``, ``until`` included),
``before`` (the ``next`` token of the previous answer) and ``limit`` (1 to 100, 50 unless
given). Events come newest first; ``next`` is null on the last page. Each page is one index
range per path (``domain.audit_search``), whichever page it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, request

from idp.domain import audit, audit_search
from idp.oidc.console_api.base import MAX_LIMIT, answer, bp, caller, invalid

ACTION = re.compile(r"[a-z_.]{0,64}")


def _day(name: str) -> datetime | None:
    """The date of query parameter ``name``, or None when it is not given; else ValueError."""
    value = request.args.get(name, "")
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)


def _event(row: Any, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "action": row.action,
        "actor": row.actor,  # a subject identifier, or "system" / "unknown"
        "target_type": row.target_type,
        "target": row.target_id,
        "centre": codes.get(row.organisation_id),
        "ip": row.ip,
        "details": row.details or {},
    }


@bp.get("/audit")
def audit_events() -> Response:
    caller()
    action = request.args.get("action", "")
    if not ACTION.fullmatch(action):
        return invalid("action is a prefix of an action: lower-case letters, '_' and '.'.")
    try:
        limit = int(request.args.get("limit", "50"))
        since, until = _day("since"), _day("until")
        before = until + timedelta(days=1) if until else None
    except (ValueError, OverflowError):
        return invalid(f"limit is 1 to {MAX_LIMIT}; since and until are dates (YYYY-MM-DD).")
    if not 1 <= limit <= MAX_LIMIT:
        return invalid(f"limit is 1 to {MAX_LIMIT}; since and until are dates (YYYY-MM-DD).")
    position = None
    if request.args.get("before"):
        position = audit.Position.parse(request.args["before"])
        if position is None:
            return invalid("before is the next token of a previous answer.")
    named = {name: request.args.get(name, "").strip() for name in ("person", "actor", "centre")}
    person = audit_search.find_person(named["person"]) if named["person"] else None
    actor = audit_search.find_person(named["actor"]) if named["actor"] else None
    centre = audit_search.find_centre(named["centre"]) if named["centre"] else None
    if (
        (named["person"] and person is None)
        or (named["actor"] and actor is None)
        or (named["centre"] and centre is None)
    ):
        # Nobody, or no centre, by that name: no events (the console reads who exists anyway).
        return answer({"events": [], "next": None, "total": 0, "more_than_total": False})
    found = audit_search.page(
        audit_search.Search(
            person=person,
            organisation_id=centre.id if centre else None,
            action=action,
            actor=actor,
            since=since,
            until=before,
        ),
        size=limit,
        before=position,
    )
    codes = audit_search.organisation_codes(found.rows)
    return answer(
        {
            "events": [_event(row, codes) for row in found.rows],
            "next": found.older.token() if found.older else None,
            "total": min(found.total, audit.COUNT_CAP),
            "more_than_total": found.total > audit.COUNT_CAP,
        }
    )
