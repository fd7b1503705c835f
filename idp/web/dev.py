"""Development pages: the demo's mail outbox. Registered only in demo or test mode.

A message's page shows its plain-text part beside its HTML part. The HTML part is served by a
route of its own under a ``sandbox`` policy (no script, no plugin, an origin of its own) and
shown in a sandboxed frame, so mail the provider wrote is seen as a mail client would show it
while nothing in it runs with the provider's pages. Its links open in a new tab, as a person's
mail client would open them."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, url_for

from idp.mail.transport import OutboxTransport

bp = Blueprint("dev", __name__, url_prefix="/dev")

# The HTML part's own policy: a sandbox without scripts or same-origin; its links may open a
# new, unsandboxed tab; inline styles (as mail has them) and images; framed by our pages only.
HTML_PART_POLICY = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)
HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
NEW_TAB = '<base target="_blank">'


def _outbox() -> OutboxTransport:
    transport = current_app.extensions["idp.mailer"].transport
    if not isinstance(transport, OutboxTransport):
        abort(404)
    return transport


def _message(name: str) -> EmailMessage:
    found = _outbox().read(name)
    if found is None:
        abort(404)
    return found


def _part(message: EmailMessage, kind: str) -> str | None:
    body = message.get_body(preferencelist=(kind,))
    if body is None or body.get_content_subtype() != kind:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


def sent_at(message: EmailMessage) -> datetime | None:
    """When the message was sent (its Date header), for the page to show in its language."""
    try:
        return parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        return None


@bp.get("/outbox")
def outbox() -> Any:
    box = _outbox()
    messages = [(name, box.read(name)) for name in box.names()]
    return render_template(
        "dev/outbox.html", messages=[(n, m, sent_at(m)) for n, m in messages if m]
    )


@bp.get("/outbox/<name>")
def message(name: str) -> Any:
    found = _message(name)
    has_html = _part(found, "html") is not None
    return render_template(
        "dev/message.html",
        message=found,
        sent=sent_at(found),
        text=_part(found, "plain") or "",
        html_url=url_for("dev.message_html", name=name) if has_html else None,
    )


@bp.get("/outbox/<name>/html")
def message_html(name: str) -> Response:
    """The message's HTML part, as it was sent, under the sandbox policy; its links open in a
    new tab (a ``base`` target: no script is needed or allowed)."""
    html = _part(_message(name), "html")
    if html is None:
        abort(404)
    head = HEAD.search(html)
    html = html[: head.end()] + NEW_TAB + html[head.end() :] if head else NEW_TAB + html
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_PART_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
