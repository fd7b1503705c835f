"""Mail leaves only when the transaction that caused it commits, and after the response.

A domain function ``enqueue``s its message on the database session. On commit the messages
are handed over for delivery; on rollback they are dropped, so a refused action never sends
mail and an invitation always describes an account that exists. Inside a request, delivery
waits until the response has been sent (``call_on_close``): the page does not wait for the
mail server, and a page that sends mail for a known account takes no longer than the same
page for an unknown one. Outside a request (the CLI) delivery is immediate.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.extensions import db

log = logging.getLogger(__name__)
KEY = "idp.outgoing_mail"


def enqueue(message: EmailMessage) -> None:
    db.session.info.setdefault(KEY, []).append(message)


def _committed(session: Session) -> None:
    messages = session.info.pop(KEY, [])
    if not messages:
        return
    if has_request_context():
        g.setdefault("idp_mail", []).extend(messages)
    else:
        _deliver_all(current_app.extensions["idp.mailer"], messages)


def _rolled_back(session: Session) -> None:
    dropped = session.info.pop(KEY, [])
    if dropped:
        log.info("mail: %d message(s) dropped with a rolled-back transaction", len(dropped))


def _deliver_all(mailer: Any, messages: list[EmailMessage]) -> None:
    for message in messages:
        mailer.deliver(message)


def install(app: Flask) -> None:
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)

    @app.after_request
    def deliver_after_response(response: Any) -> Any:
        messages = g.pop("idp_mail", None)
        if messages:
            mailer = current_app.extensions["idp.mailer"]
            response.call_on_close(lambda: _deliver_all(mailer, messages))
        return response

    @app.teardown_request
    def deliver_leftovers(_exc: BaseException | None) -> None:
        # Committed after the response was built (or the response never was): send now.
        messages = g.pop("idp_mail", None)
        if messages:
            _deliver_all(current_app.extensions["idp.mailer"], messages)
