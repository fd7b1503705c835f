"""The organisation's audit log: its own events, and its members' sign-ins while they were
members (``domain.audit.page``), each told in a sentence (``web.audit_sentences``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _

from idp.domain import audit, users
from idp.web import audit_sentences
from idp.web.organisation.blueprint import bp
from idp.web.organisation.common import app_catalogue, managed_org

PAGE_SIZE = 50


def _day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@bp.get("/<code>/audit")
def audit_log(code: str) -> Any:
    """The organisation's audit log: its own events, and its members' sign-ins while they were
    members (``audit.page``), each told in a sentence (``audit_sentences``). Pages go by
    position (``?before=``, ``?after=``, ``?oldest=1``), so each costs the same however far back
    it is; the count stops at ``audit.COUNT_CAP``."""
    org = managed_org(code)
    action = request.args.get("action", "")
    since = _day(request.args.get("from", ""))
    until = _day(request.args.get("to", ""))
    try:
        before = until + timedelta(days=1) if until else None
    except OverflowError:  # to=9999-12-31: the end of time, so no upper bound
        before = None
    person_address = request.args.get("person", "").strip()[:320]
    # Whoever the address names, only what happened at this centre is shown: an address of no
    # account, or of someone never here, shows no events alike.
    person = users.find_by_email(person_address) if person_address else None
    f = audit.Filter(
        action=action if action in audit_sentences.KINDS else "",
        since=since,
        until=before,
        person=person,
    )
    found = (
        audit.Page(rows=[], newer=None, older=None, total=0)
        if person_address and person is None
        else audit.page(
            org.id,
            f,
            size=PAGE_SIZE,
            before=audit.Position.parse(request.args.get("before", "")),
            after=audit.Position.parse(request.args.get("after", "")),
            oldest=request.args.get("oldest") == "1",
        )
    )
    filters: dict[str, Any] = {
        "action": f.action or None,
        "from": since and request.args["from"] or None,
        "to": until and request.args["to"] or None,
        "person": person_address or None,
    }

    def link(**position: Any) -> str:
        return url_for("organisation.audit_log", code=org.code, **filters, **position)

    return render_template(
        "organisation/audit.html",
        org=org,
        lines=audit_sentences.describe(found.rows, app_catalogue()),
        total=found.total,
        more_than=audit.COUNT_CAP if found.total > audit.COUNT_CAP else None,
        newest=link() if found.newer else None,
        newer=link(after=found.newer.token()) if found.newer else None,
        older=link(before=found.older.token()) if found.older else None,
        oldest=link(oldest=1) if found.older else None,
        actions=audit_sentences.KINDS,
        action=f.action,
        since=request.args.get("from", "") if since else "",
        until=request.args.get("to", "") if until else "",
        person=person_address,
        when_format=_("d MMMM y, HH:mm"),
    )
