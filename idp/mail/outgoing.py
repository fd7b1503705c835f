"""Mail leaves only when the transaction that caused it commits, and after the response.

A domain function ``send``s a ``Mail`` (``idp.domain.mailing``) on the database session. Just
before the commit each is written (``messages.render``, in the language it asks for or the
current page's); once committed they are handed to ``idp.deferred``; on rollback they are
dropped, so a refused action never sends mail and an invitation always describes an account
that exists. The page does not wait for the mail server, and a page that sends mail for a
known account takes no longer than the same page for an unknown one (a decoy's mail is
written all the same, and not sent).
"""

from __future__ import annotations

import functools
import logging
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp import deferred
from idp.domain.mailing import KEY, Mail
from idp.mail import messages

log = logging.getLogger(__name__)
WRITTEN = "idp.outgoing_mail.written"


def _committing(session: Session) -> None:
    # Written before the commit, while the transaction can still read (the page's language
    # may need the signed-in person), and dropped if the commit fails.
    queued: list[Mail] = session.info.pop(KEY, [])
    if queued:
        written = session.info.setdefault(WRITTEN, [])
        for mail in queued:
            message = messages.render(mail)
            if mail.deliver:
                written.append(message)


def _committed(session: Session) -> None:
    written: list[EmailMessage] = session.info.pop(WRITTEN, [])
    if written:
        mailer = current_app.extensions["idp.mailer"]
        for message in written:
            deferred.after_response(functools.partial(mailer.deliver, message))


def _rolled_back(session: Session) -> None:
    dropped = [*session.info.pop(KEY, []), *session.info.pop(WRITTEN, [])]
    if dropped:
        log.info("mail: %d message(s) dropped with a rolled-back transaction", len(dropped))


def install() -> None:
    """Listen on every session (idempotent)."""
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "before_commit", _committing)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)
