"""Invitations to join, the person's side: Accept / Decline on their home page. The rules are
``domain.joining``'s; the officer's side is ``idp.web.organisation`` (an invitation's page and
its actions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp.domain import joining
from idp.errors import DomainError
from idp.languages import say
from idp.web.transaction import transaction

bp = Blueprint("joining", __name__, url_prefix="/invitations")


@bp.post("/<public_id>/accept")
@login_required
def accept(public_id: str) -> Any:
    catalogue = current_app.extensions["idp.settings"].catalogue
    with transaction(DomainError) as tx:
        membership = joining.accept(current_user, public_id, catalogue)
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(
            _(
                "You have joined %(code)s – %(name)s.",
                code=membership.organisation.code,
                name=membership.organisation.name,
            ),
            "success",
        )
    return redirect(url_for("home.index"))


@bp.post("/<public_id>/decline")
@login_required
def decline(public_id: str) -> Any:
    with transaction(DomainError) as tx:
        invitation = joining.decline(current_user, public_id)
    if tx.error is not None:
        flash(say(tx.error), "warning")
    else:
        flash(
            _(
                "You have declined the invitation from %(name)s.",
                name=invitation.organisation.name,
            ),
            "success",
        )
    return redirect(url_for("home.index"))
