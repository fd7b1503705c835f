"""The users of an organisation: the list, Add user(s), and one person's page (or an
invitation's, which looks the same)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from idp import clock
from idp.domain import (
    acting,
    address_changes,
    joining,
    management,
    member_list,
    office,
    suspensions,
)
from idp.domain.management import NewUser
from idp.errors import DomainError, NotFound
from idp.languages import say
from idp.web.forms import field
from idp.web.organisation import consequences, invitations
from idp.web.organisation.blueprint import bp
from idp.web.organisation.common import (
    app_catalogue,
    list_query,
    manageable,
    managed_org,
    management_settings,
    role_groups,
    whole_number,
)
from idp.web.transaction import transaction

MAX_ROWS = 20


@bp.get("/")
def index() -> Any:
    """My Organisation manages the organisation acted for (*Change Organisation* on the home
    page chooses it); when the person does not manage that one, the page says so."""
    orgs = manageable()
    if not orgs:
        abort(403)
    current = acting.current(current_user, current_user.auth_session, app_catalogue())
    if current is not None and current in orgs:
        return redirect(url_for("organisation.users", code=current.code))
    return render_template("organisation/not_managed.html", org=current), 200


@bp.get("/<code>/users")
def users(code: str) -> Any:
    org = managed_org(code)
    page = member_list.list_members(org, list_query(request.args))
    catalogue = app_catalogue()
    return render_template(
        "organisation/users.html",
        org=org,
        page=page,
        roles=catalogue.brand_roles(org.brand),
        role_names={r.key: r.name for r in catalogue.roles},
        statuses=member_list.STATUSES,
        page_sizes=member_list.PAGE_SIZES,
        can_choose=len(acting.choices(current_user, catalogue)) > 1,
    )


def _rows(form: MultiDict[str, str]) -> list[NewUser]:
    count = min(whole_number(form.get("rows") or "1") or 1, MAX_ROWS)
    return [
        NewUser(
            field(form, f"given_name-{i}", 100),
            field(form, f"family_name-{i}", 100),
            field(form, f"email-{i}"),
            tuple(form.getlist(f"roles-{i}")),
        )
        for i in range(max(count, 1))
    ]


@bp.route("/<code>/users/add", methods=["GET", "POST"])
def add_users(code: str) -> Any:
    org = managed_org(code)
    catalogue = app_catalogue()
    rows = _rows(request.form) if request.method == "POST" else [NewUser("", "", "", ())]
    outcomes: list[management.Outcome | None] = [None] * len(rows)
    action = request.form.get("action", "")
    if action == "add_row" and len(rows) < MAX_ROWS:
        rows.append(NewUser("", "", "", ()))
        outcomes.append(None)
    elif action.startswith("remove_row-") and len(rows) > 1:
        index = whole_number(action.removeprefix("remove_row-"))
        if index is not None and index < len(rows):
            del rows[index]
            del outcomes[index]
    elif action in ("save", "save_another"):
        outcomes = [management.check_new(current_user, org, row, catalogue) for row in rows]
        problems = [o for o in outcomes if o and o.kind in ("error", "already_member")]
        emails = [o.email for o in outcomes if o]
        if len(set(emails)) != len(emails):
            flash(_("The same email address appears in more than one row."), "warning")
        elif not problems:
            with transaction(DomainError) as tx:
                done = management.add_all(current_user, org, rows, management_settings())
            if tx.error is not None:
                flash(say(tx.error), "warning")
            else:
                if action == "save_another":
                    flash(_summary(done), "success")
                    return redirect(url_for("organisation.add_users", code=org.code))
                return render_template("organisation/added.html", org=org, done=done)
    return render_template(
        "organisation/add_users.html",
        org=org,
        rows=rows,
        outcomes=outcomes,
        roles=management.grantable_roles(org, catalogue),
        role_groups=role_groups(org),
        max_rows=MAX_ROWS,
    )


def _summary(done: list[management.Outcome]) -> str:
    """The same words whether an address was new (an account and a temporary password) or
    already had an account (an invitation to join): which it was is the person's business."""
    invited = [o.email for o in done if o.kind == "invited"]
    if not invited:
        return ""
    return ngettext(
        "Invitation sent to %(addresses)s.",
        "Invitations sent to %(addresses)s.",
        len(invited),
        addresses=", ".join(invited),
    )


@bp.get("/<code>/users/<sub>")
def view_user(code: str, sub: str) -> Any:
    org = managed_org(code)
    try:
        user, membership = management.member(org, sub)
    except NotFound:  # an invitation to join's page, or its link once accepted
        if invitation := joining.unanswered(org, sub):
            return invitations.page(org, invitations.Invited.of_invitation(invitation))
        if joined := joining.joined_as(org, sub):
            return redirect(url_for("organisation.view_user", code=org.code, sub=joined))
        raise
    catalogue = app_catalogue()
    protected = office.is_exams_officer(org, user)
    if (
        management.awaiting_activation(user)
        and not protected
        and user.id != current_user.id
        and address_changes.pending(user) is None
    ):
        # Never activated: the same page as an invitation to join, so that nothing tells the
        # officer which of the two an address had.
        return invitations.page(org, invitations.Invited.of_member(user, membership))
    suspended = suspensions.suspended_here(org, user)
    reach = suspensions.scope(current_user, org, user, catalogue)
    return render_template(
        "organisation/user.html",
        protected=protected,
        locked_roles={catalogue.management_role(org.brand)} if protected else set(),
        suspended=suspended,
        suspension_effect=consequences.suspension_effect(reach, org, user),
        org=org,
        user=user,
        membership=membership,
        roles=management.grantable_roles(org, catalogue),
        role_groups=role_groups(org),
        officer_roles=[
            catalogue.roles_by_key[k]
            for k in sorted(membership.role_keys)
            if not catalogue.roles_by_key[k].grantable_by_centre
        ],
        role_names={r.key: r.name for r in catalogue.roles},
        now=clock.now,
        # The organisation sees the person's sign-ins from when they joined it, not before.
        last_sign_in=user.last_sign_in_at
        if user.last_sign_in_at and user.last_sign_in_at >= membership.created_at
        else None,
        is_self=user.id == current_user.id,
        address_locked=management.holds_office(user, catalogue),
        address_theirs=management.belongs_elsewhere(user, current_user, catalogue),
        address_change=address_changes.pending(user),
        elsewhere=[m.organisation for m in user.memberships if m.organisation_id != org.id],
        deletes_account=management.removal_deletes_account(org, user),
    )
