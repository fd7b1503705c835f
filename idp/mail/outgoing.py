"""Mail leaves only when the transaction that caused it commits, and after the response.

A domain function ``enqueue``s its message on the database session. On commit the messages
are handed to ``idp.deferred``; on rollback they are dropped, so a refused action never sends
mail and an invitation always describes an account that exists. The page does not wait for the
mail server, and a page that sends mail for a known account takes no longer than the same page
for an unknown one.
"""

from __future__ import annotations

import functools
import logging
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp import deferred
from idp.extensions import db

log = logging.getLogger(__name__)
KEY = "idp.outgoing_mail"


def enqueue(message: EmailMessage) -> None:
    db.session.info.setdefault(KEY, []).append(message)


def _committed(session: Session) -> None:
    messages = session.info.pop(KEY, [])
    if messages:
        mailer = current_app.extensions["idp.mailer"]
        for message in messages:
            deferred.after_response(functools.partial(mailer.deliver, message))


def _rolled_back(session: Session) -> None:
    dropped = session.info.pop(KEY, [])
    if dropped:
        log.info("mail: %d message(s) dropped with a rolled-back transaction", len(dropped))


def install() -> None:
    """Listen on every session (idempotent)."""
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)
