"""My Organisation: the users of the organisations an exams officer manages.

The pages parse forms and call ``domain.management``, which decides every rule; a refused
action is rolled back and shown as a message. Organisations are addressed by centre number and
people by their subject identifier, and both are checked on every request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from idp import clock, throttle
from idp.catalogue import Catalogue, Role
from idp.domain import (
    acting,
    address_changes,
    audit,
    joining,
    management,
    member_list,
    office,
    suspensions,
)
from idp.domain import users as accounts
from idp.domain.management import NewUser
from idp.domain.member_list import ListQuery
from idp.errors import DomainError, NotFound
from idp.extensions import db
from idp.models import Organisation, User
from idp.oidc import data_holders
from idp.web import audit_sentences, confirmation, join_invitations, member_actions
from idp.web.forms import field

bp = Blueprint("organisation", __name__, url_prefix="/organisation")
MAX_ROWS = 20
AUDIT_PAGE_SIZE = 50


@bp.before_request
@login_required
def _signed_in_only() -> None:
    """Every page needs a signed-in user; each view then checks the organisation."""


def _catalogue() -> Catalogue:
    return current_app.extensions["idp.settings"].catalogue


def management_settings() -> management.Settings:
    settings = current_app.extensions["idp.settings"]
    return management.Settings(
        settings.catalogue,
        settings.auth.temporary_password_ttl,
        settings.auth.password_reset_ttl // 60,
        settings.auth.join_invitation_ttl,
        settings.auth.address_change_ttl,
    )


def _role_groups(org: Organisation) -> list[tuple[str, list[Role]]]:
    """The roles offered at ``org``, grouped by service, in catalogue order."""
    catalogue = _catalogue()
    groups: dict[str, list[Role]] = {}
    for role in management.grantable_roles(org, catalogue):
        groups.setdefault(catalogue.services_by_key[role.service].name, []).append(role)
    return list(groups.items())


def manageable() -> list[Organisation]:
    """The organisations the signed-in user manages (worked out once per request)."""
    if "idp_manageable" not in g:
        g.idp_manageable = management.manageable(current_user, _catalogue())
    return g.idp_manageable


def managed_org(code: str) -> Organisation:
    wanted = (code or "").strip().upper()
    org = next((o for o in manageable() if o.code == wanted), None)
    if org is None:
        raise NotFound("There is no such organisation, or you do not manage it.")
    return org


@bp.get("/")
def index() -> Any:
    """My Organisation manages the organisation acted for (*Change Organisation* on the home
    page chooses it); when the person does not manage that one, the page says so."""
    orgs = manageable()
    if not orgs:
        abort(403)
    current = acting.current(current_user, current_user.auth_session, _catalogue())
    if current is not None and current in orgs:
        return redirect(url_for("organisation.users", code=current.code))
    return render_template("organisation/not_managed.html", org=current), 200


def list_query(args: MultiDict[str, str]) -> ListQuery:
    def number(name: str, default: int) -> int:
        return _whole_number(args.get(name, "")) or default

    per_page = number("per_page", 15)
    return ListQuery(
        search=field(args, "q", 100),
        status=field(args, "status", 16),
        role=field(args, "role", 64),
        sort=field(args, "sort", 16) or "name",
        descending=args.get("dir") == "desc",
        page=number("page", 1),
        per_page=per_page if per_page in member_list.PAGE_SIZES else 15,
        invitations=True,
    )


@bp.get("/<code>/users")
def users(code: str) -> Any:
    org = managed_org(code)
    page = member_list.list_members(org, list_query(request.args))
    catalogue = _catalogue()
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


def _whole_number(text: str) -> int | None:
    """A non-negative whole number typed in a form (ASCII or other decimal digits), else None:
    ``str.isdigit`` accepts '²', which ``int`` refuses."""
    if not text.isdecimal():
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _rows(form: MultiDict[str, str]) -> list[NewUser]:
    count = min(_whole_number(form.get("rows") or "1") or 1, MAX_ROWS)
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
    catalogue = _catalogue()
    rows = _rows(request.form) if request.method == "POST" else [NewUser("", "", "", ())]
    outcomes: list[management.Outcome | None] = [None] * len(rows)
    action = request.form.get("action", "")
    if action == "add_row" and len(rows) < MAX_ROWS:
        rows.append(NewUser("", "", "", ()))
        outcomes.append(None)
    elif action.startswith("remove_row-") and len(rows) > 1:
        index = _whole_number(action.removeprefix("remove_row-"))
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
            try:
                done = management.add_all(current_user, org, rows, management_settings())
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "warning")
            else:
                db.session.commit()
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
        role_groups=_role_groups(org),
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
            return join_invitations.page(org, invitation, _role_groups(org))
        if joined := joining.joined_as(org, sub):
            return redirect(url_for("organisation.view_user", code=org.code, sub=joined))
        raise
    catalogue = _catalogue()
    protected = office.is_exams_officer(org, user)
    if (
        management.awaiting_activation(user)
        and not protected
        and user.id != current_user.id
        and address_changes.pending(user) is None
    ):
        # Never activated: the same page as an invitation to join, so that nothing tells the
        # officer which of the two an address had.
        return join_invitations.page(
            org, join_invitations.Invited.of_member(user, membership), _role_groups(org)
        )
    suspended = suspensions.suspended_here(org, user)
    reach = suspensions.scope(current_user, org, user, catalogue)
    return render_template(
        "organisation/user.html",
        protected=protected,
        locked_roles={catalogue.management_role(org.brand)} if protected else set(),
        suspended=suspended,
        suspension_effect=member_actions.suspension_effect(reach, org, user),
        org=org,
        user=user,
        membership=membership,
        roles=management.grantable_roles(org, catalogue),
        role_groups=_role_groups(org),
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


def _ask(org: Organisation, user: User, action: str) -> Any:
    """The question before ``action`` (``member_actions.CONFIRMED``), or, if the action would
    be refused, the refusal on the user's page."""
    try:
        question = member_actions.question(current_user, org, user, action, management_settings())
    except DomainError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("organisation.view_user", code=org.code, sub=user.sub))
    return confirmation.ask(
        question,
        action=url_for("organisation.act", code=org.code, sub=user.sub, action=action),
        cancel=url_for("organisation.view_user", code=org.code, sub=user.sub),
        org=org,
    )


def _act(code: str, sub: str, action: str) -> Any:
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    catalogue = _catalogue()
    if action in member_actions.CONFIRMED and not confirmation.confirmed():
        return _ask(org, user, action)
    if action == "delete" and not confirmation.confirmed():
        return redirect(url_for("organisation.delete_user", code=org.code, sub=sub))
    try:
        if action == "roles":
            management.change_roles(
                current_user, org, user, request.form.getlist("roles"), catalogue
            )
            message = _("The roles of %(name)s have been saved.", name=user.name)
        elif action == "suspend":
            reach = suspensions.suspend(current_user, org, user, catalogue)
            message = member_actions.suspended_notice(reach, org, user)
        elif action == "restore":
            reach = suspensions.restore(current_user, org, user, catalogue)
            message = member_actions.restored_notice(reach, org, user)
        elif action == "invitation":
            management.resend_invitation(current_user, org, user, management_settings())
            message = _("A new invitation has been sent to %(email)s.", email=user.email)
        elif action == "email":
            address = management.change_email(
                current_user, org, user, field(request.form, "email"), management_settings()
            )
            message = _(
                "We have sent a link to %(email)s to confirm the change. The address of"
                " %(name)s changes when the link is used; %(old)s has been told.",
                email=address,
                name=user.name,
                old=user.email,
            )
        elif action == "password":
            management.send_password_reset(current_user, org, user, management_settings())
            message = _("A password reset link has been sent to %(email)s.", email=user.email)
        else:  # delete
            name = user.name
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
            db.session.commit()
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
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("organisation.view_user", code=org.code, sub=sub))


@bp.get("/<code>/users/<sub>/<any(suspend, restore, password):action>")
def confirm_action(code: str, sub: str, action: str) -> Any:
    """The question before suspending, restoring or sending a reset link: nothing changes
    until it is answered Yes (a POST from this page, to the same address)."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    return _ask(org, user, action)


@bp.get("/<code>/users/<sub>/delete")
def delete_user(code: str, sub: str) -> Any:
    """Delete (or remove from this organisation): first every data-holding service is asked
    what it holds of the person; anything held must be transferred before delete is offered."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    try:
        _removable, deletes_account = management.check_removable(
            current_user, org, user, _catalogue()
        )
    except DomainError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("organisation.view_user", code=org.code, sub=sub))
    holdings = data_holders.ask(user, org)
    services = {c.client_id: c.service_keys for c in data_holders.holders()}
    return render_template(
        "organisation/delete.html",
        org=org,
        user=user,
        holdings=holdings,
        blocked=any(h.blocks_deletion for h in holdings),
        deletes_account=deletes_account,
        question=member_actions.delete_question(org, user, deletes_account),
        action=url_for("organisation.act", code=org.code, sub=sub, action="delete"),
        cancel=url_for("organisation.view_user", code=org.code, sub=sub),
        targets={
            h.client_id: management.transfer_targets(
                org, user, services.get(h.client_id, ()), _catalogue()
            )
            for h in holdings
            if h.holds_data
        },
    )


@bp.post("/<code>/users/<sub>/transfer")
def transfer_data(code: str, sub: str) -> Any:
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    back = redirect(url_for("organisation.delete_user", code=org.code, sub=sub))
    holder = next(
        (c for c in data_holders.holders() if c.client_id == request.form.get("client_id")), None
    )
    if holder is None:
        abort(404)
    try:
        management.check_removable(current_user, org, user, _catalogue())
        to = management.transfer_target(
            org, user, request.form.get("to", ""), holder.service_keys, _catalogue()
        )
        if not confirmation.confirmed():
            # Moving someone's work to another person is not undone from here: asked first.
            return confirmation.ask(
                member_actions.transfer_question(holder.name, holder.client_id, user, to),
                action=url_for("organisation.transfer_data", code=org.code, sub=sub),
                cancel=url_for("organisation.delete_user", code=org.code, sub=sub),
                org=org,
            )
        data_holders.transfer(holder, user, to, org)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
        return back
    except data_holders.TransferRefused as exc:
        db.session.rollback()
        flash(exc.message, "warning")
        return back
    management.record_transfer(current_user, org, user, to, holder.name)
    db.session.commit()
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


ACTIONS = "roles, suspend, restore, invitation, password, email, delete, withdraw"


@bp.post(f"/<code>/users/<sub>/<any({ACTIONS}):action>")
@throttle.by_person(
    "invitations",
    exempt_when=lambda: (
        (request.view_args or {}).get("action") not in ("invitation", "password", "email")
    ),
)
def act(code: str, sub: str, action: str) -> Any:
    org = managed_org(code)
    if invitation := joining.unanswered(org, sub):
        return join_invitations.act(org, invitation, action, management_settings())
    if action == "withdraw":
        return _withdraw(org, sub)
    return _act(code, sub, action)


def _withdraw(org: Organisation, sub: str) -> Any:
    """Withdraw the invitation of a member who never activated, after the question."""
    user, membership = management.member(org, sub)
    if not management.awaiting_activation(user):
        abort(404)
    if not confirmation.confirmed():
        return join_invitations.confirm_withdraw(
            org, join_invitations.Invited.of_member(user, membership)
        )
    name = user.name
    try:
        management.withdraw_invitation(current_user, org, user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
        return redirect(url_for("organisation.view_user", code=org.code, sub=sub))
    db.session.commit()
    flash(_("The invitation to %(name)s has been withdrawn.", name=name), "success")
    return redirect(url_for("organisation.users", code=org.code))


@bp.get("/<code>/users/<sub>/withdraw")
def withdraw_invitation(code: str, sub: str) -> Any:
    """Withdrawing an invitation asks first."""
    org = managed_org(code)
    invitation = joining.unanswered(org, sub)
    if invitation is not None:
        return join_invitations.confirm_withdraw(org, invitation)
    user, membership = management.member(org, sub)
    if not management.awaiting_activation(user):
        abort(404)
    return join_invitations.confirm_withdraw(
        org, join_invitations.Invited.of_member(user, membership)
    )


@bp.post("/<code>/users/<sub>/email/cancel")
def cancel_email_change(code: str, sub: str) -> Any:
    """Drop the change of a member's address waiting for its link."""
    org = managed_org(code)
    user, _membership = management.member(org, sub)
    try:
        management.cancel_email_change(current_user, org, user, management_settings())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
        flash(
            _(
                "The change of email address has been cancelled. %(name)s still signs in"
                " with %(email)s.",
                name=user.name,
                email=user.email,
            ),
            "success",
        )
    return redirect(url_for("organisation.view_user", code=org.code, sub=sub))


def _day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@bp.get("/<code>/audit")
def audit_log(code: str) -> Any:
    """The organisation's audit log: its own events, and its members' sign-ins while they were
    members (``audit.page``), each told in a sentence (``audit_sentences``). Pages go by
    position (``?before=``, ``?after=``, ``?oldest=1``), so each costs the same however far back
    it is; the count stops at ``audit.COUNT_CAP``."""
    org = managed_org(code)
    action = request.args.get("action", "")
    since = _day(request.args.get("from", ""))
    until = _day(request.args.get("to", ""))
    try:
        before = until + timedelta(days=1) if until else None
    except OverflowError:  # to=9999-12-31: the end of time, so no upper bound
        before = None
    person_address = request.args.get("person", "").strip()[:320]
    # Whoever the address names, only what happened at this centre is shown: an address of no
    # account, or of someone never here, shows no events alike.
    person = accounts.find_by_email(person_address) if person_address else None
    f = audit.Filter(
        action=action if action in audit_sentences.KINDS else "",
        since=since,
        until=before,
        person=person,
    )
    found = (
        audit.Page(rows=[], newer=None, older=None, total=0)
        if person_address and person is None
        else audit.page(
            org.id,
            f,
            size=AUDIT_PAGE_SIZE,
            before=audit.Position.parse(request.args.get("before", "")),
            after=audit.Position.parse(request.args.get("after", "")),
            oldest=request.args.get("oldest") == "1",
        )
    )
    filters: dict[str, Any] = {
        "action": f.action or None,
        "from": since and request.args["from"] or None,
        "to": until and request.args["to"] or None,
        "person": person_address or None,
    }

    def link(**position: Any) -> str:
        return url_for("organisation.audit_log", code=org.code, **filters, **position)

    return render_template(
        "organisation/audit.html",
        org=org,
        lines=audit_sentences.describe(found.rows, _catalogue()),
        total=found.total,
        more_than=audit.COUNT_CAP if found.total > audit.COUNT_CAP else None,
        newest=link() if found.newer else None,
        newer=link(after=found.newer.token()) if found.newer else None,
        older=link(before=found.older.token()) if found.older else None,
        oldest=link(oldest=1) if found.older else None,
        actions=audit_sentences.KINDS,
        action=f.action,
        since=request.args.get("from", "") if since else "",
        until=request.args.get("to", "") if until else "",
        person=person_address,
        when_format=_("d MMMM y, HH:mm"),
    )
