"""What an officer does to one person from their page, one view each; the forms post to
``/<code>/users/<sub>/<action>``: change the roles, suspend, restore, resend the invitation,
change the email address (or cancel its change), send a password reset link. Deleting and
withdrawing an invitation are ``leaving``'s.

Suspend, restore and the reset link ask first (``confirmation``): nothing changes until the
question is answered Yes. The roles and resend also apply to an invitation to join (addressed
by its public id, where a member has their subject identifier); the other actions refuse one.
A refused action is rolled back and its reason shown on the person's page.
"""

from __future__ import annotations

from typing import Any

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from idp import throttle
from idp.domain import joining, management, suspensions
from idp.errors import DomainError
from idp.languages import say
from idp.models import Organisation, User
from idp.web.forms import field
from idp.web.organisation import confirmation, consequences
from idp.web.organisation.blueprint import bp
from idp.web.organisation.common import (
    app_catalogue,
    managed_org,
    management_settings,
    not_for_invitation,
    person_page,
    refused,
    saved,
)
from idp.web.transaction import transaction

# The actions whose question has a page of its own (the person's page links to it), by the
# last part of their address: the question, and the view that acts once it is answered Yes.
ASKED = {
    "suspend": (consequences.suspend_question, "organisation.suspend_user"),
    "restore": (consequences.restore_question, "organisation.restore_user"),
    "password": (consequences.password_question, "organisation.send_password_reset"),
}


def _ask(org: Organisation, user: User, action: str) -> Any:
    """The question before ``action`` (one of ``ASKED``) or, if the action would be refused,
    the refusal on the person's page."""
    question, endpoint = ASKED[action]
    try:
        asked = question(current_user, org, user, management_settings())
    except DomainError as exc:
        flash(say(exc), "warning")
        return person_page(org, user.sub)
    return confirmation.ask(
        asked,
        action=url_for(endpoint, code=org.code, sub=user.sub),
        cancel=url_for("organisation.view_user", code=org.code, sub=user.sub),
        org=org,
    )


@bp.get(f"/<code>/users/<sub>/<any({', '.join(ASKED)}):action>")
def confirm_action(code: str, sub: str, action: str) -> Any:
    """The question before suspending, restoring or sending a reset link: nothing changes
    until it is answered Yes (a POST from this page, to the same address)."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    return _ask(org, user, action)


@bp.post("/<code>/users/<sub>/roles")
def change_roles(code: str, sub: str) -> Response:
    """The roles of a member (officer-only roles they hold stay), or those an invitation to
    join offers."""
    org = managed_org(code)
    keys = request.form.getlist("roles")
    if invitation := joining.unanswered(org, sub):
        with transaction(DomainError) as tx:
            management.change_offer(current_user, org, invitation, keys, app_catalogue())
        if tx.error is not None:
            return refused(org, sub, tx.error)
        return saved(org, sub, _("The roles of %(name)s have been saved.", name=invitation.name))
    user, _membership = management.member(org, sub)
    with transaction(DomainError) as tx:
        management.change_roles(current_user, org, user, keys, app_catalogue())
    if tx.error is not None:
        return refused(org, sub, tx.error)
    return saved(org, sub, _("The roles of %(name)s have been saved.", name=user.name))


@bp.post("/<code>/users/<sub>/suspend")
def suspend_user(code: str, sub: str) -> Any:
    org = managed_org(code)
    if joining.unanswered(org, sub):
        return not_for_invitation(org, sub)
    user, _membership = management.member(org, sub)
    if not confirmation.confirmed():
        return _ask(org, user, "suspend")
    with transaction(DomainError) as tx:
        reach = suspensions.suspend(current_user, org, user, app_catalogue())
    if tx.error is not None:
        return refused(org, sub, tx.error)
    return saved(org, sub, consequences.suspended_notice(reach, org, user))


@bp.post("/<code>/users/<sub>/restore")
def restore_user(code: str, sub: str) -> Any:
    org = managed_org(code)
    if joining.unanswered(org, sub):
        return not_for_invitation(org, sub)
    user, _membership = management.member(org, sub)
    if not confirmation.confirmed():
        return _ask(org, user, "restore")
    with transaction(DomainError) as tx:
        reach = suspensions.restore(current_user, org, user, app_catalogue())
    if tx.error is not None:
        return refused(org, sub, tx.error)
    return saved(org, sub, consequences.restored_notice(reach, org, user))


@bp.post("/<code>/users/<sub>/invitation")
@throttle.by_person("invitations")
def resend_invitation(code: str, sub: str) -> Response:
    """A new temporary password for a member who never activated, or the invitation to join
    renewed."""
    org = managed_org(code)
    settings = management_settings()
    if invitation := joining.unanswered(org, sub):
        with transaction(DomainError) as tx:
            joining.resend(
                current_user,
                invitation,
                ttl_seconds=settings.join_invitation_ttl,
                catalogue=settings.catalogue,
            )
        if tx.error is not None:
            return refused(org, sub, tx.error)
        message = _("A new invitation has been sent to %(email)s.", email=invitation.email)
        return saved(org, sub, message)
    user, _membership = management.member(org, sub)
    with transaction(DomainError) as tx:
        management.resend_invitation(current_user, org, user, settings)
    if tx.error is not None:
        return refused(org, sub, tx.error)
    return saved(org, sub, _("A new invitation has been sent to %(email)s.", email=user.email))


@bp.post("/<code>/users/<sub>/email")
@throttle.by_person("invitations")
def change_email(code: str, sub: str) -> Response:
    """Ask for the member's address to change: it changes when the link sent to the new
    address is used."""
    org = managed_org(code)
    if joining.unanswered(org, sub):
        return not_for_invitation(org, sub)
    user, _membership = management.member(org, sub)
    with transaction(DomainError) as tx:
        address = management.change_email(
            current_user, org, user, field(request.form, "email"), management_settings()
        )
    if tx.error is not None:
        return refused(org, sub, tx.error)
    message = _(
        "We have sent a link to %(email)s to confirm the change. The address of"
        " %(name)s changes when the link is used; %(old)s has been told.",
        email=address,
        name=user.name,
        old=user.email,
    )
    return saved(org, sub, message)


@bp.post("/<code>/users/<sub>/email/cancel")
def cancel_email_change(code: str, sub: str) -> Response:
    """Drop the change of a member's address waiting for its link."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    with transaction(DomainError) as tx:
        management.cancel_email_change(current_user, org, user, management_settings())
    if tx.error is not None:
        return refused(org, sub, tx.error)
    message = _(
        "The change of email address has been cancelled. %(name)s still signs in with %(email)s.",
        name=user.name,
        email=user.email,
    )
    return saved(org, sub, message)


@bp.post("/<code>/users/<sub>/password")
@throttle.by_person("invitations")
def send_password_reset(code: str, sub: str) -> Any:
    """Email the member a link to choose a new password (the email names the officer)."""
    org = managed_org(code)
    if joining.unanswered(org, sub):
        return not_for_invitation(org, sub)
    user, _membership = management.member(org, sub)
    if not confirmation.confirmed():
        return _ask(org, user, "password")
    with transaction(DomainError) as tx:
        management.send_password_reset(current_user, org, user, management_settings())
    if tx.error is not None:
        return refused(org, sub, tx.error)
    return saved(org, sub, _("A password reset link has been sent to %(email)s.", email=user.email))
