"""Invitations to join, from both sides: the officer's page for one (reached from the users list
like an invited member's page, at the same kind of address) and the person's Accept / Decline
on their home page. The rules are ``domain.joining``'s and ``domain.management``'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp import clock
from idp.domain import joining, management
from idp.errors import DomainError
from idp.extensions import db
from idp.models import JoinInvitation, Membership, Organisation, User
from idp.web import confirmation

bp = Blueprint("joining", __name__, url_prefix="/invitations")


@dataclass(frozen=True)
class Invited:
    """What the officer's invitation pages show, the same for an invitation to join and for a
    member who never activated: what the officer typed, the roles, the invitation's expiry."""

    public_id: str
    name: str
    email: str
    role_keys: set[str]
    expires_at: datetime

    @classmethod
    def of_member(cls, user: User, membership: Membership) -> Invited:
        return cls(
            user.sub,
            user.name,
            user.email or "",
            membership.role_keys,
            user.temp_password_expires_at or clock.now(),
        )

    @classmethod
    def of_invitation(cls, invitation: JoinInvitation) -> Invited:
        return cls(
            invitation.public_id,
            invitation.name,
            invitation.email,
            invitation.role_keys,
            invitation.expires_at,
        )


def page(org: Organisation, invitation: JoinInvitation | Invited, role_groups: Any) -> Any:
    """The officer's page for an invitation: only what the officer typed, and its state."""
    if isinstance(invitation, JoinInvitation):
        invitation = Invited.of_invitation(invitation)
    catalogue = current_app.extensions["idp.settings"].catalogue
    return render_template(
        "organisation/invitation.html",
        org=org,
        invitation=invitation,
        role_groups=role_groups,
        roles=management.grantable_roles(org, catalogue),
        role_names={r.key: r.name for r in catalogue.roles},
        waiting=invitation.expires_at > clock.now(),
    )


def confirm_withdraw(org: Organisation, invitation: JoinInvitation | Invited) -> Any:
    """The question before withdrawing (``web.confirmation``)."""
    page = url_for("organisation.view_user", code=org.code, sub=invitation.public_id)
    return confirmation.ask(
        confirmation.Question(
            title=_("Withdraw the invitation to %(name)s?", name=invitation.name),
            consequences=[
                _(
                    "The invitation sent to %(email)s stops working: they cannot join"
                    " %(centre)s with it.",
                    email=invitation.email,
                    centre=org.code,
                ),
                _("You can invite them again later."),
            ],
            yes=_("Yes, withdraw the invitation to %(name)s", name=invitation.name),
        ),
        action=url_for(
            "organisation.act", code=org.code, sub=invitation.public_id, action="withdraw"
        ),
        cancel=page,
        org=org,
    )


def act(
    org: Organisation, invitation: JoinInvitation, action: str, settings: management.Settings
) -> Any:
    """An officer's action on an invitation: change the roles offered, resend, withdraw."""
    back = redirect(url_for("organisation.view_user", code=org.code, sub=invitation.public_id))
    try:
        if action == "roles":
            management.change_offer(
                current_user, org, invitation, request.form.getlist("roles"), settings.catalogue
            )
            message = _("The roles of %(name)s have been saved.", name=invitation.name)
        elif action == "invitation":
            joining.resend(
                current_user,
                invitation,
                ttl_seconds=settings.join_invitation_ttl,
                catalogue=settings.catalogue,
            )
            message = _("A new invitation has been sent to %(email)s.", email=invitation.email)
        elif action == "withdraw":
            if not confirmation.confirmed():
                return confirm_withdraw(org, invitation)
            joining.withdraw(current_user, invitation)
            db.session.commit()
            flash(
                _("The invitation to %(name)s has been withdrawn.", name=invitation.name),
                "success",
            )
            return redirect(url_for("organisation.users", code=org.code))
        else:
            flash(_("That cannot be done to an invitation."), "warning")
            return back
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
        flash(message, "success")
    return back


# -- the person's side ----------------------------------------------------------------------------


@bp.post("/<public_id>/accept")
@login_required
def accept(public_id: str) -> Any:
    catalogue = current_app.extensions["idp.settings"].catalogue
    try:
        membership = joining.accept(current_user, public_id, catalogue)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
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
    try:
        invitation = joining.decline(current_user, public_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
        flash(
            _(
                "You have declined the invitation from %(name)s.",
                name=invitation.organisation.name,
            ),
            "success",
        )
    return redirect(url_for("home.index"))
