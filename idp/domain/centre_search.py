"""Finding centres by centre number or name among 10,000 (``idp.domain.centres.search``).

A centre number by its start ("aa1" finds AA101 to AA199): a range of the unique ``code``
index, codes being stored upper-cased. A name by the start of any of its words, or despite a
typo ("Dumy Centre" finds "AA Dummy Centre A"): the name's trigrams
(``idp.models.centre_names``), each a range of that table's primary key, ranked by how many
the name shares with the text. The filters (brand: ``ix_organisations_brand_code``; associate
of: ``ix_organisations_parent_id``) narrow either. Every path is an index range with a LIMIT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from idp.domain import organisations
from idp.extensions import db
from idp.models import CentreNameTrigram, Organisation
from idp.models.centre_names import trigrams

MAX_LIMIT = 100
# A name matches when it shares this share of the typed text's trigrams (all, when short).
LIKENESS = 0.6
SHORT = 3  # trigrams: up to a three-letter word


@dataclass(frozen=True)
class Filters:
    brand: str = ""
    associates_of: Organisation | None = None


def _filtered(query: Select[*tuple[Any, ...]], filters: Filters) -> Select[*tuple[Any, ...]]:
    if filters.brand:
        query = query.where(Organisation.brand == filters.brand)
    if filters.associates_of is not None:
        query = query.where(Organisation.parent_id == filters.associates_of.id)
    return query


def _code_text(text: str) -> str:
    code = text.strip().upper()
    return code if code.isalnum() and code.isascii() else ""


def code_range(text: str, filters: Filters, limit: int) -> Select[*tuple[Any, ...]]:
    """Centres whose number starts with ``text``: ``code >= "AA1" AND code < "AA2"``."""
    start = _code_text(text)
    end = start[:-1] + chr(ord(start[-1]) + 1)
    query = select(Organisation.id, Organisation.code).where(
        Organisation.code >= start, Organisation.code < end
    )
    return _filtered(query, filters).order_by(Organisation.code).limit(limit)


def name_matches(text: str, filters: Filters, limit: int) -> Select[*tuple[Any, ...]]:
    """(organisation id, trigrams shared) of the names most like ``text``, best first: each
    trigram of the text is a range of the trigram table's primary key."""
    wanted = sorted(trigrams(text, prefix=True))
    # A word or two letters long must match as typed; longer text may have a typo or two.
    needed = len(wanted) if len(wanted) <= SHORT else math.ceil(LIKENESS * len(wanted))
    shared = func.count(CentreNameTrigram.trigram).label("shared")
    query = (
        select(CentreNameTrigram.organisation_id, shared)
        .where(CentreNameTrigram.trigram.in_(wanted))
        .group_by(CentreNameTrigram.organisation_id)
        .having(func.count(CentreNameTrigram.trigram) >= needed)
    )
    if filters.brand or filters.associates_of is not None:
        query = _filtered(
            query.join(Organisation, Organisation.id == CentreNameTrigram.organisation_id),
            filters,
        )
    return query.order_by(shared.desc(), CentreNameTrigram.organisation_id).limit(limit)


def search(
    text: str, *, brand: str = "", associates_of: str = "", limit: int = 20
) -> list[Organisation]:
    """Centres matching ``text`` (a centre number's start, or words of a name, typos and
    all), of ``brand`` and associates of the centre numbered ``associates_of`` if given: the
    exact centre number first, then the numbers starting with it, then the names by likeness.
    Without text, the centres matching the filters by centre number."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    parent = organisations.get_by_code(associates_of) if associates_of.strip() else None
    filters = Filters(brand.strip(), parent)
    text = " ".join((text or "").split())[:200]
    if not text:
        query = _filtered(select(Organisation.id), filters).order_by(Organisation.code)
        return _with_people(list(db.session.scalars(query.limit(limit))))
    ids: list[int] = []
    code = _code_text(text)
    if code:
        by_code = list(db.session.execute(code_range(text, filters, limit)).all())
        ids = [o.id for o in by_code if o.code == code] + [o.id for o in by_code if o.code != code]
    if len(ids) < limit and trigrams(text):
        named = [row[0] for row in db.session.execute(name_matches(text, filters, limit))]
        ids += [i for i in named if i not in ids]
    return _with_people(ids[:limit])


def _with_people(ids: list[int]) -> list[Organisation]:
    """The centres ``ids``, in that order, with their exams officers and Associates loaded in
    two more queries (a results table shows both)."""
    if not ids:
        return []
    loaded = db.session.scalars(
        select(Organisation)
        .where(Organisation.id.in_(ids))
        .options(selectinload(Organisation.exams_officer), selectinload(Organisation.parent))
        .execution_options(populate_existing=True)
    )
    by_id = {o.id: o for o in loaded}
    return [by_id[i] for i in ids]
