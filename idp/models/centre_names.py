"""The words of centres' names, cut into trigrams: how a centre is found by a name typed with
a typo ("Dumy Centre") or by the start of any word of it, as index ranges on both databases.

Each name is lower-cased and split into words; each word, padded as ``"  word "``, gives its
three-character pieces (as PostgreSQL's ``pg_trgm`` does). A search looks up the pieces of what
was typed (``ix`` range on the primary key) and ranks centres by how many they share. The rows
follow the name: written when a centre is created or renamed, whoever does it (the console, the
CLI, a test's factory), by the two mapper events below.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ForeignKey, String, delete, event, insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from idp.extensions import db
from idp.models.organisation import Organisation

WORD = re.compile(r"\w+")


def trigrams(text: str, *, prefix: bool = False) -> set[str]:
    """The pieces of ``text``'s words. ``prefix``: the last word may be the start of a longer
    one, so it has no closing space (what was typed so far)."""
    words = WORD.findall((text or "").lower())
    pieces: set[str] = set()
    for n, word in enumerate(words):
        closing = "" if prefix and n == len(words) - 1 else " "
        padded = "  " + word + closing
        pieces.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return pieces


class CentreNameTrigram(db.Model):  # type: ignore[name-defined]
    """One piece of one centre's name."""

    __tablename__ = "centre_name_trigrams"

    trigram: Mapped[str] = mapped_column(String(12), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def _write(connection: Connection, organisation: Organisation) -> None:
    table = CentreNameTrigram.__table__
    connection.execute(delete(table).where(table.c.organisation_id == organisation.id))
    pieces = sorted(trigrams(organisation.name))
    if pieces:
        connection.execute(
            insert(table), [{"trigram": p, "organisation_id": organisation.id} for p in pieces]
        )


@event.listens_for(Organisation, "after_insert")
def _named(_mapper: Mapper[Any], connection: Connection, organisation: Organisation) -> None:
    _write(connection, organisation)


@event.listens_for(Organisation, "after_update")
def _renamed(_mapper: Mapper[Any], connection: Connection, organisation: Organisation) -> None:
    if inspect(organisation).attrs.name.history.has_changes():
        _write(connection, organisation)
