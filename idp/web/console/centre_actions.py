"""The console's actions on a centre's people and relationships: name or replace its exams
officer, attach or detach associate centres. Each asks first, saying what will happen ("Olga
Officer will lose User Management"), and needs a reason."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from idp.domain import centres, organisations, staff, users
from idp.errors import DomainError
from idp.languages import words
from idp.web.console.blueprint import bp
from idp.web.console.centres import ask, catalogue, centre_or_404, form_page, kept
from idp.web.organisation.confirmation import Question, confirmed
from idp.web.transaction import transaction

OFFICER_FIELDS = ("email", "given_name", "family_name", "keep", "reason")


def _officer_lines(plan: centres.OfficerPlan, given: str, family: str) -> list[str]:
    """What naming the officer will do, a sentence each."""
    org = plan.organisation
    known = catalogue()
    management = words(known.roles_by_key[known.management_role(org.brand)].name)
    office = ", ".join(
        [management]
        + sorted(words(known.roles_by_key[k].name) for k in known.officer_only_roles(org.brand))
    )
    newcomer = plan.account.name if plan.account else f"{given} {family}".strip()
    if plan.way == "new":
        lines = [
            _(
                "An account will be made for %(email)s and sent an invitation email with a "
                "temporary password.",
                email=plan.email,
            ),
            _(
                "%(name)s becomes the exams officer of %(code)s now, with %(roles)s.",
                name=newcomer,
                code=org.code,
                roles=office,
            ),
        ]
    elif plan.way == "join":
        lines = [
            _(
                "%(email)s already has an account: it will be sent an invitation to join %(code)s.",
                email=plan.email,
                code=org.code,
            ),
            _(
                "The person becomes the exams officer, with %(roles)s, when they accept it; "
                "until then nothing else changes.",
                roles=office,
            ),
        ]
    else:
        lines = [
            _(
                "%(name)s becomes the exams officer of %(code)s now, with %(roles)s.",
                name=newcomer,
                code=org.code,
                roles=office,
            )
        ]
    taken_over = sorted(
        words(known.roles_by_key[k].name)
        for k in organisations.handed_over(org, known)
        if k in known.roles_by_key
    )
    if taken_over and plan.previous is not None:
        lines.append(
            _(
                "%(name)s also takes over what %(previous)s held here: %(roles)s.",
                name=newcomer,
                previous=plan.previous.name,
                roles=", ".join(taken_over),
            )
        )
    if plan.previous is not None:
        lost = sorted(
            words(known.roles_by_key[k].name) for k in known.officer_only_roles(org.brand)
        )
        if lost:
            lines.append(
                _("%(name)s will lose %(roles)s.", name=plan.previous.name, roles=", ".join(lost))
            )
        if plan.previous_keeps_management:
            lines.append(
                _("%(name)s will keep %(role)s.", name=plan.previous.name, role=management)
            )
        else:
            lines.append(
                _("%(name)s will lose %(role)s.", name=plan.previous.name, role=management)
            )
    return lines


def _named(plan: centres.OfficerPlan) -> str:
    """What the centre's page says once the officer is named."""
    code = plan.organisation.code
    if plan.way == "join":
        return _(
            "%(email)s has been invited to join %(code)s: they become its exams officer when "
            "they accept.",
            email=plan.email,
            code=code,
        )
    officer = plan.organisation.exams_officer
    name = officer.name if officer is not None else plan.email
    if plan.way == "new":
        return _(
            "%(name)s is now the exams officer of %(code)s, and has been emailed an invitation "
            "with a temporary password.",
            name=name,
            code=code,
        )
    return _("%(name)s is now the exams officer of %(code)s.", name=name, code=code)


@bp.route("/centres/<code>/officer", methods=["GET", "POST"])
def name_officer(code: str) -> Any:
    """Name or replace the centre's exams officer."""
    org = centre_or_404(code)
    form = request.form if request.method == "POST" else MultiDict()
    page = "console/centre_officer.html"
    if request.method == "GET":
        return form_page(page, form, None, org=org)
    values = kept(form, *OFFICER_FIELDS)
    keep = values["keep"] == "yes"
    try:
        staff.clean_reason(values["reason"])
        plan = centres.officer_plan(org, values["email"], keep_old_user_management=keep)
        if plan.way != "member":  # a new member: the names the invitation uses
            users.clean_name(values["given_name"], "first or given name")
            users.clean_name(values["family_name"], "last name or surname")
    except DomainError as exc:
        return form_page(page, form, exc, org=org)
    if not confirmed():
        question = Question(
            _("Name the exams officer of %(code)s?", code=org.code),
            _officer_lines(plan, values["given_name"], values["family_name"]),
            _("Yes, name the exams officer"),
            hidden=values,
        )
        return ask(
            question,
            url_for("console.name_officer", code=org.code),
            url_for("console.centre", code=org.code),
            org=org,
        )
    settings = current_app.extensions["idp.settings"].auth
    with transaction(DomainError) as tx:
        plan = centres.name_exams_officer(
            current_user,
            org,
            values["email"],
            values["given_name"],
            values["family_name"],
            keep_old_user_management=keep,
            reason=values["reason"],
            catalogue=catalogue(),
            ttl=settings.temporary_password_ttl,
            join_ttl=settings.join_invitation_ttl,
        )
        flash(_named(plan), "success")
        return redirect(url_for("console.centre", code=org.code))
    return form_page(page, form, tx.error, org=org)


@bp.route("/centres/<code>/associates", methods=["GET", "POST"])
def attach_associate(code: str) -> Any:
    """Make another centre an associate centre of this Cambridge Associate."""
    org = centre_or_404(code)
    form = request.form if request.method == "POST" else MultiDict()
    page = "console/centre_associate.html"
    if request.method == "GET":
        return form_page(page, form, None, org=org)
    values = kept(form, "associate", "reason")
    try:
        staff.clean_reason(values["reason"])
        child = organisations.get_by_code(values["associate"])
    except DomainError as exc:
        return form_page(page, form, exc, org=org)
    if not confirmed():
        question = Question(
            _("Make %(child)s an associate centre of %(code)s?", child=child.code, code=org.code),
            [
                _(
                    "%(child)s (%(name)s) will be managed by %(code)s: its exams officer can "
                    "act for it.",
                    child=child.code,
                    name=child.name,
                    code=org.code,
                ),
            ],
            _("Yes, attach the centre"),
            warning=False,
            hidden=values,
        )
        return ask(
            question,
            url_for("console.attach_associate", code=org.code),
            url_for("console.centre", code=org.code),
            org=org,
        )
    with transaction(DomainError) as tx:
        centres.attach_associate(current_user, org, child, values["reason"])
        return redirect(url_for("console.centre", code=org.code))
    return form_page(page, form, tx.error, org=org)


@bp.route("/centres/<code>/associates/<associate>/detach", methods=["GET", "POST"])
def detach_associate(code: str, associate: str) -> Any:
    """This centre no longer manages ``associate``."""
    org = centre_or_404(code)
    child = centre_or_404(associate)
    if child.parent_id != org.id:
        return redirect(url_for("console.centre", code=org.code))
    form = request.form if request.method == "POST" else MultiDict()
    page = "console/centre_detach.html"
    if request.method == "GET":
        return form_page(page, form, None, org=org, child=child)
    values = kept(form, "reason")
    try:
        staff.clean_reason(values["reason"])
    except DomainError as exc:
        return form_page(page, form, exc, org=org, child=child)
    action = url_for("console.detach_associate", code=org.code, associate=child.code)
    if not confirmed():
        question = Question(
            _("Detach %(child)s from %(code)s?", child=child.code, code=org.code),
            [
                _(
                    "The exams officer of %(code)s will no longer act for %(child)s.",
                    code=org.code,
                    child=child.code,
                )
            ],
            _("Yes, detach the centre"),
            hidden=values,
        )
        return ask(question, action, url_for("console.centre", code=org.code), org=org)
    with transaction(DomainError) as tx:
        centres.detach_associate(current_user, org, child, values["reason"])
        return redirect(url_for("console.centre", code=org.code))
    return form_page(page, form, tx.error, org=org, child=child)
