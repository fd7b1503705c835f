"""The ways out of an organisation: delete (or remove from it), once each service holding the
person's data has transferred it to another member, and withdraw an invitation. Each asks
first (``confirmation``); a refused one is rolled back and its reason shown."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from idp.domain import joining, management
from idp.errors import DomainError
from idp.languages import say
from idp.models import Organisation
from idp.oidc import data_holders
from idp.web.organisation import confirmation, consequences
from idp.web.organisation.blueprint import bp
from idp.web.organisation.common import (
    app_catalogue,
    managed_org,
    not_for_invitation,
    person_page,
    refused,
)
from idp.web.organisation.invitations import Invited
from idp.web.transaction import transaction


@bp.get("/<code>/users/<sub>/delete")
def delete_user(code: str, sub: str) -> Any:
    """Delete (or remove from this organisation): first every data-holding service is asked
    what it holds of the person; anything held must be transferred before delete is offered."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    catalogue = app_catalogue()
    try:
        _removable, deletes_account = management.check_removable(current_user, org, user, catalogue)
    except DomainError as exc:
        flash(say(exc), "warning")
        return person_page(org, sub)
    holdings = data_holders.ask(user, org)
    services = {c.client_id: c.service_keys for c in data_holders.holders()}
    return render_template(
        "organisation/delete.html",
        org=org,
        user=user,
        holdings=holdings,
        blocked=any(h.blocks_deletion for h in holdings),
        deletes_account=deletes_account,
        question=consequences.delete_question(org, user, deletes_account),
        action=url_for("organisation.remove_user", code=org.code, sub=sub),
        cancel=url_for("organisation.view_user", code=org.code, sub=sub),
        targets={
            h.client_id: management.transfer_targets(
                org, user, services.get(h.client_id, ()), catalogue
            )
            for h in holdings
            if h.holds_data
        },
    )


@bp.post("/<code>/users/<sub>/delete")
def remove_user(code: str, sub: str) -> Any:
    """The delete page's Yes: the account is deleted, or the person removed from this
    organisation (``management.remove``), unless a service still holds their data."""
    org = managed_org(code)
    if joining.unanswered(org, sub):
        return not_for_invitation(org, sub)
    user, _membership = management.member(org, sub)
    if not confirmation.confirmed():
        return redirect(url_for("organisation.delete_user", code=org.code, sub=sub))
    name = user.name
    catalogue = app_catalogue()
    with transaction(DomainError) as tx:
        management.check_removable(current_user, org, user, catalogue)
        if any(h.blocks_deletion for h in data_holders.ask(user, org)):
            flash(
                _(
                    "A service may still hold data of %(name)s: transfer it before deleting.",
                    name=name,
                ),
                "warning",
            )
            return redirect(url_for("organisation.delete_user", code=org.code, sub=sub))
        deleted = management.remove(current_user, org, user, catalogue)
    if tx.error is not None:
        return refused(org, sub, tx.error)
    flash(
        _("%(name)s has been deleted.", name=name)
        if deleted
        else _(
            "%(name)s has been removed from %(organisation)s.",
            name=name,
            organisation=org.name,
        ),
        "success",
    )
    return redirect(url_for("organisation.users", code=org.code))


@bp.post("/<code>/users/<sub>/transfer")
def transfer_data(code: str, sub: str) -> Any:
    """A service moves what it holds of a leaving person to another member, after the
    question."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    back = redirect(url_for("organisation.delete_user", code=org.code, sub=sub))
    holder = next(
        (c for c in data_holders.holders() if c.client_id == request.form.get("client_id")), None
    )
    if holder is None:
        abort(404)
    try:
        with transaction(DomainError) as tx:
            management.check_removable(current_user, org, user, app_catalogue())
            to = management.transfer_target(
                org, user, request.form.get("to", ""), holder.service_keys, app_catalogue()
            )
            if not confirmation.confirmed():
                # Moving someone's work to another person is not undone from here: asked first.
                return confirmation.ask(
                    consequences.transfer_question(holder.name, holder.client_id, user, to),
                    action=url_for("organisation.transfer_data", code=org.code, sub=sub),
                    cancel=url_for("organisation.delete_user", code=org.code, sub=sub),
                    org=org,
                )
            data_holders.transfer(holder, user, to, org)
            management.record_transfer(current_user, org, user, to, holder.name)
    except data_holders.TransferRefused as exc:  # rolled back by the transaction
        flash(exc.message, "warning")
        return back
    if tx.error is not None:
        flash(say(tx.error), "warning")
        return back
    flash(
        _(
            "%(service)s has transferred the data of %(name)s to %(to)s.",
            service=holder.name,
            name=user.name,
            to=to.name,
        ),
        "success",
    )
    return back


@bp.route("/<code>/users/<sub>/withdraw", methods=["GET", "POST"])
def withdraw_invitation(code: str, sub: str) -> Any:
    """Withdraw an invitation to join, or the invitation of a member who never activated,
    after the question (a GET of this address, or a POST without its Yes)."""
    org = managed_org(code)
    if invitation := joining.unanswered(org, sub):
        invited = Invited.of_invitation(invitation)
        if not confirmation.confirmed():
            return _ask_withdraw(org, invited)
        with transaction(DomainError) as tx:
            joining.withdraw(current_user, invitation)
    else:
        user, membership = management.member(org, sub)
        if not management.awaiting_activation(user):
            abort(404)
        invited = Invited.of_member(user, membership)
        if not confirmation.confirmed():
            return _ask_withdraw(org, invited)
        with transaction(DomainError) as tx:
            management.withdraw_invitation(current_user, org, user)
    if tx.error is not None:
        return refused(org, sub, tx.error)
    flash(_("The invitation to %(name)s has been withdrawn.", name=invited.name), "success")
    return redirect(url_for("organisation.users", code=org.code))


def _ask_withdraw(org: Organisation, invited: Invited) -> Any:
    return confirmation.ask(
        consequences.withdraw_question(org, invited),
        action=url_for("organisation.withdraw_invitation", code=org.code, sub=invited.public_id),
        cancel=url_for("organisation.view_user", code=org.code, sub=invited.public_id),
        org=org,
    )
