"""The service-wide audit log: every event of the service, filtered by person, centre, kind of
event, who acted and when (``domain.audit_search``), each told in a sentence
(``web.audit_sentences``), with the reason a member of staff gave; and the same events as a
CSV file, oldest first."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, render_template, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from idp import clock
from idp.domain import audit, audit_search, staff
from idp.domain.audit_search import Search
from idp.web import audit_sentences
from idp.web.console.blueprint import add_section, bp
from idp.web.organisation.common import app_catalogue
from idp.web.organisation.csv_import import FORMULA_START
from idp.web.transaction import transaction

add_section("console.audit", _l("Audit log"), "audit")

PAGE_SIZE = 50
# The kinds of event offered by the filter: a prefix of the action, and its label.
KINDS = {
    **audit_sentences.KINDS,
    "staff.": _l("Console actions"),
    "organisation.": _l("Centre changes"),
    "session.": _l("Changes of organisation"),
    "client.": _l("Client applications"),
    "key.": _l("Signing keys"),
}
# What an action filter may be: a kind, or one action typed by hand ("sign_in.failed").
ACTION = re.compile(r"[a-z_.]{0,64}")
CSV_COLUMNS = ("when_utc", "event", "what_happened", "reason", "centre", "ip_address")


@dataclass(frozen=True)
class Asked:
    """The filters as the form sent them, and the search they make."""

    search: Search
    person: str
    centre: str
    actor: str
    action: str
    since: str
    until: str
    unknown: list[str]  # what was typed but names nobody or no centre

    def args(self) -> dict[str, Any]:
        """The filters for a link (empty ones left out)."""
        return {
            "person": self.person or None,
            "centre": self.centre or None,
            "actor": self.actor or None,
            "action": self.action or None,
            "from": self.since or None,
            "to": self.until or None,
        }


def _day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def asked(args: Any) -> Asked:
    """The filters of a request's query string: addresses and centre numbers found, dates
    read; anything unreadable is left out, never a failure."""
    person = args.get("person", "").strip()[:320]
    centre = args.get("centre", "").strip()[:20]
    actor = args.get("actor", "").strip()[:320]
    action = args.get("action", "").strip()
    action = action if ACTION.fullmatch(action) else ""
    since, until = _day(args.get("from", "")), _day(args.get("to", ""))
    try:
        before = until + timedelta(days=1) if until else None
    except OverflowError:  # to=9999-12-31: no upper bound
        before = None
    unknown: list[str] = []
    found_person = audit_search.find_person(person) if person else None
    found_actor = audit_search.find_person(actor) if actor else None
    found_centre = audit_search.find_centre(centre) if centre else None
    unknown += [person] if person and found_person is None else []
    unknown += [actor] if actor and found_actor is None else []
    unknown += [centre] if centre and found_centre is None else []
    return Asked(
        search=Search(
            person=found_person,
            organisation_id=found_centre.id if found_centre else None,
            action=action,
            actor=found_actor,
            since=since,
            until=before,
        ),
        person=person,
        centre=centre,
        actor=actor,
        action=action,
        since=args.get("from", "") if since else "",
        until=args.get("to", "") if until else "",
        unknown=unknown,
    )


@bp.get("/audit", endpoint="audit")
def audit_log() -> Any:
    """The service's audit log, newest first, a page at a time by position (``?before=``,
    ``?after=``, ``?oldest=1``): each page costs the same however far back it is, and the count
    stops at ``audit.COUNT_CAP``. A filter that names nobody shows no events, and says so."""
    a = asked(request.args)
    found = (
        audit.Page(rows=[], newer=None, older=None, total=0)
        if a.unknown
        else audit_search.page(
            a.search,
            size=PAGE_SIZE,
            before=audit.Position.parse(request.args.get("before", "")),
            after=audit.Position.parse(request.args.get("after", "")),
            oldest=request.args.get("oldest") == "1",
        )
    )
    filters = a.args()

    def link(**position: Any) -> str:
        return url_for("console.audit", **filters, **position)

    codes = audit_search.organisation_codes(found.rows)
    lines = audit_sentences.describe(found.rows, app_catalogue())
    kinds = dict(KINDS)
    if a.action not in kinds:
        # One kind of event asked for by hand (a link): shown by its name when it has one.
        kinds[a.action] = str(audit_sentences.LABELS.get(a.action, a.action))
    return render_template(
        "console/audit.html",
        rows=[
            (line, codes.get(row.organisation_id, ""))
            for row, line in zip(found.rows, lines, strict=True)
        ],
        total=found.total,
        more_than=audit.COUNT_CAP if found.total > audit.COUNT_CAP else None,
        newest=link() if found.newer else None,
        newer=link(after=found.newer.token()) if found.newer else None,
        older=link(before=found.older.token()) if found.older else None,
        oldest=link(oldest=1) if found.older else None,
        download=url_for("console.audit_csv", **filters),
        kinds=kinds,
        asked=a,
        when_format="d MMM y HH:mm",
    )


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (as the centre's users
    download writes it: ``organisation.csv_import``)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _csv_lines(search: Search | None) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    out.write("\ufeff")  # UTF-8 with a byte-order mark: spreadsheets then read accents right
    writer.writerow(CSV_COLUMNS)
    catalogue = app_catalogue()
    batch: list[Any] = []

    def written(rows: list[Any]) -> str:
        codes = audit_search.organisation_codes(rows)
        for row, line in zip(rows, audit_sentences.describe(rows, catalogue), strict=True):
            writer.writerow(
                [
                    line.at.strftime("%Y-%m-%d %H:%M:%S"),
                    _cell(line.label),
                    _cell(line.sentence),
                    _cell(line.reason),
                    _cell(codes.get(row.organisation_id, "")),
                    _cell(line.ip),
                ]
            )
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    for row in audit_search.stream(search) if search is not None else ():
        batch.append(row)
        if len(batch) == 500:
            yield written(batch)
            batch = []
    yield written(batch)


@bp.get("/audit.csv")
def audit_csv() -> Any:
    """The filtered events as a CSV file, oldest first, written as they are read (in batches
    by position, so millions of events never sit in memory at once). The download is itself
    recorded, with its filters."""
    a = asked(request.args)
    with transaction():
        staff.record(
            current_user,
            "audit_downloaded",
            target_type="audit",
            filters={k: v for k, v in a.args().items() if v},
        )
    # A filter that names nobody: the columns, no events.
    lines = _csv_lines(None if a.unknown else a.search)
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="audit-{clock.now():%Y-%m-%d}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
