"""Development pages: the demo's mail outbox. Registered only in demo or test mode."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template

from idp.mail.transport import OutboxTransport

bp = Blueprint("dev", __name__, url_prefix="/dev")


def _outbox() -> OutboxTransport:
    transport = current_app.extensions["idp.mailer"].transport
    if not isinstance(transport, OutboxTransport):
        abort(404)
    return transport


@bp.get("/outbox")
def outbox() -> Any:
    box = _outbox()
    messages = [(name, box.read(name)) for name in box.names()]
    return render_template("dev/outbox.html", messages=[(n, m) for n, m in messages if m])


@bp.get("/outbox/<name>")
def message(name: str) -> Any:
    found = _outbox().read(name)
    if found is None:
        abort(404)
    body = found.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return render_template("dev/message.html", message=found, text=text)
