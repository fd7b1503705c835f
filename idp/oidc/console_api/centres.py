"""Centres for the exam board's own tools: the console's centre search and a centre's summary
(without its audit events), read-only."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.wrappers import Response

from idp.domain import centre_search, centres, organisations
from idp.errors import NotFound
from idp.models import Organisation
from idp.oidc.console_api.base import MAX_LIMIT, answer, bp, caller, invalid, not_found


def _centre(org: Organisation) -> dict[str, Any]:
    officer = org.exams_officer
    return {
        "code": org.code,
        "name": org.name,
        "brand": org.brand,
        "associate_of": org.parent.code if org.parent else None,
        "exams_officer": officer.sub if officer else None,
    }


def _person(p: centres.Person) -> dict[str, Any]:
    return {"sub": p.sub, "name": p.name, "email": p.email, "status": p.status}


@bp.get("/centres")
def centres_search() -> Response:
    """``?q=&brand=&associates_of=&limit=``: the console's search."""
    caller()
    limit_text = request.args.get("limit", "20")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        return invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    try:
        found = centre_search.search(
            request.args.get("q", "")[:200],
            brand=request.args.get("brand", "")[:64],
            associates_of=request.args.get("associates_of", "")[:20],
            limit=int(limit_text),
        )
    except NotFound:
        return not_found("No centre with that centre number to list the associates of.")
    return answer({"centres": [_centre(o) for o in found]})


@bp.get("/centres/<code>")
def centre(code: str) -> Response:
    """The centre's summary, as the console's centre page shows it, without its events."""
    caller()
    try:
        org = organisations.get_by_code(code)
    except NotFound:
        return not_found("No such centre.")
    seen = centres.summary(org, current_app.extensions["idp.settings"].catalogue, events=0)
    return answer(
        {
            **_centre(org),
            "exams_officer": _person(seen.officer) if seen.officer else None,
            "user_management": [_person(p) for p in seen.user_managers],
            "members": seen.counts,
            "members_counted_up_to": centres.COUNT_CAP,
            "associates": [_centre(a) for a in seen.associates],
            "exams_officer_invited": seen.nominee.email if seen.nominee else None,
        }
    )
