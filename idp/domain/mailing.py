"""The mail an action asks for, as data: which message, to whom, in whose language, with what.

A domain function ``send``s a ``Mail`` on the database session and goes on. The edge
(``idp.mail.outgoing``) renders it with ``idp.mail.messages`` when the transaction commits,
in the recipient's language or, not known, the current page's, with its links built from the
issuer, and hands it to the mailer after the response; a rollback drops it unsent. So a refused
action never sends mail, and the domain knows nothing of templates, URLs or languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.extensions import db

KEY = "idp.outgoing_mail"


@dataclass(frozen=True)
class Mail:
    """One email to write.

    ``message`` names a function of ``idp.mail.messages``; ``params`` are its arguments besides
    ``to`` (plain values: names, codes, tokens for links, never URLs). ``locale`` is the
    recipient's own language when the mail is someone else's doing (``User.locale``); ``None``
    writes it in the language of the page that caused it. ``deliver=False`` writes it all the
    same and sends nothing: a decoy's equal effort."""

    message: str
    to: str
    params: Mapping[str, Any] = field(default_factory=dict)
    locale: str | None = None
    deliver: bool = True


def send(mail: Mail) -> None:
    """Send ``mail`` once the current transaction commits; never if it rolls back."""
    db.session.info.setdefault(KEY, []).append(mail)
