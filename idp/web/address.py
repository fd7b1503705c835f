"""The link that confirms a change of main email address (sent to the new address): open it,
then confirm with a button, so a mail scanner that fetches links changes nothing."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.exc import IntegrityError

from idp.domain import address_changes, management
from idp.errors import Conflict, LinkInvalid
from idp.extensions import db
from idp.languages import say
from idp.models import Organisation
from idp.web.organisation.common import management_settings
from idp.web.transaction import transaction

bp = Blueprint("address", __name__, url_prefix="/email-change")
LINK_TOKEN = "address_change_token"


def _cannot(message: str) -> Any:
    session.pop(LINK_TOKEN, None)
    response = make_response(render_template("address/link_invalid.html", message=message), 410)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/<token>")
def open_link(token: str) -> Any:
    """The emailed link: its token moves into the session and the browser moves on to a page
    whose address holds no secret (not in the history, not in any Referer)."""
    try:
        address_changes.for_link(token)
    except LinkInvalid as exc:
        return _cannot(say(exc))
    session[LINK_TOKEN] = token
    response = redirect(url_for("address.confirm"))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/confirm", methods=["GET", "POST"])
def confirm() -> Any:
    token = str(session.get(LINK_TOKEN, ""))
    try:
        change = address_changes.for_link(token)
    except LinkInvalid as exc:
        return _cannot(say(exc))
    if request.method == "POST":
        conflict: Conflict | None = None
        try:
            with transaction(LinkInvalid) as tx:
                try:
                    user, invited = management.confirm_email_change(change, management_settings())
                except Conflict as exc:
                    conflict = exc  # the link is spent all the same: committed
        except IntegrityError:  # taken at this very moment by another change
            return _cannot(say(address_changes.TAKEN))
        refusal = tx.error or conflict
        if refusal is not None:
            return _cannot(say(refusal))
        session.pop(LINK_TOKEN, None)
        return render_template("address/done.html", address=user.email, invited=invited)
    by = address_changes.requested_by(change)
    organisation = (
        db.session.get(Organisation, change.organisation_id) if change.organisation_id else None
    )
    return render_template(
        "address/confirm.html",
        address=change.address,
        by=by.name if by else None,
        organisation=organisation.name if organisation else None,
    )
