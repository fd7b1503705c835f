"""One transaction per action: the only place a page commits or rolls back.

A view wraps what it changes in ``with transaction():`` (``with transaction(DomainError) as
tx:`` when it shows a refusal to the person). When the block ends normally
(``return`` included) everything it wrote is committed, before the response leaves. A refusal
from the rules (a ``DomainError`` of a kind the view names) rolls back everything the block
wrote and is kept in ``tx.error`` for the page to show, so nothing is half-written on bad input.
Any other exception rolls back too and carries on to the error handlers.

A failure that must be remembered all the same (a wrong code counts as an attempt) is caught
inside the block, so the block commits it. Transactions do not nest: each one commits on its
own, so a second one opened inside the first is a mistake, and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g

from idp.errors import DomainError
from idp.extensions import db


class Transaction:
    """What became of one ``with transaction()`` block: ``error`` is the refusal that rolled
    it back, or None once it is committed."""

    error: DomainError | None = None


@contextmanager
def transaction(*refusals: type[DomainError]) -> Iterator[Transaction]:
    """Commit the block's writes. A refusal of one of the kinds in ``refusals`` rolls them back
    and is kept in ``.error``; anything else (any refusal, when none is named) rolls them back
    and propagates."""
    if g.get("idp_transaction_open"):
        raise RuntimeError("a transaction is already open in this request")
    g.idp_transaction_open = True
    outcome = Transaction()
    try:
        yield outcome
        db.session.commit()
    except refusals as exc:
        db.session.rollback()
        outcome.error = exc
    except BaseException:
        db.session.rollback()
        raise
    finally:
        g.idp_transaction_open = False
