"""The console's Centres: find a centre by number or name, see it on one page, and (each after
a confirmation page that says what will happen, and with a reason) create one, rename it, name
or replace its exams officer, and attach or detach associate centres."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from idp.catalogue import Catalogue
from idp.domain import centre_search, centres, organisations, staff
from idp.errors import DomainError, NotFound
from idp.languages import say
from idp.models import Organisation
from idp.web import audit_sentences
from idp.web.console.blueprint import add_section, bp
from idp.web.forms import field
from idp.web.organisation.confirmation import Question, confirmed
from idp.web.transaction import transaction

add_section("console.centres", _l("Centres"), "centres")


def catalogue() -> Catalogue:
    """The catalogue the app was configured with."""
    return current_app.extensions["idp.settings"].catalogue


def centre_or_404(code: str) -> Organisation:
    """The centre numbered ``code``; else the page does not exist."""
    try:
        return organisations.get_by_code(code)
    except NotFound:
        abort(404)


def _brand_name(key: str) -> str:
    return next((b.name for b in catalogue().brands if b.key == key), key)


@bp.app_context_processor
def _brands() -> dict[str, Any]:
    return {"brand_name": _brand_name}


@bp.get("/centres", endpoint="centres")
def centres_index() -> Any:
    """The search form and its results: by centre number or name, brand, associate of."""
    q, brand, parent = (field(request.args, k, 200) for k in ("q", "brand", "associates_of"))
    searched = bool(q or brand or parent)
    found: list[Organisation] = []
    error = None
    if searched:
        try:
            found = centre_search.search(q, brand=brand, associates_of=parent, limit=50)
        except DomainError as exc:
            error = say(exc)
    return render_template(
        "console/centres.html",
        q=q,
        brand=brand,
        associates_of=parent,
        brands=catalogue().brands,
        searched=searched,
        found=found,
        error=error,
    ), (400 if error else 200)


@bp.get("/centres/<code>")
def centre(code: str) -> Any:
    """The centre's page: its officer, User Management holders, members by status, associate
    relationships and its newest events."""
    org = centre_or_404(code)
    seen = centres.summary(org, catalogue())
    return render_template(
        "console/centre.html",
        org=org,
        seen=seen,
        lines=audit_sentences.describe(seen.events, catalogue()),
        cap=centres.COUNT_CAP,
    )


def form_page(
    template: str, values: MultiDict[str, str], error: DomainError | None, **context: Any
) -> Any:
    errors = [(getattr(error, "field", None) or "", say(error))] if error else []
    return render_template(
        template, values=values, errors=errors, brands=catalogue().brands, **context
    ), (400 if error else 200)


def ask(question: Question, action: str, cancel: str, **context: Any) -> str:
    return render_template(
        "console/centre_confirm.html", question=question, action=action, cancel=cancel, **context
    )


def kept(form: MultiDict[str, str], *names: str) -> dict[str, str]:
    return {name: field(form, name, 500) for name in names}


@bp.route("/centres/new", methods=["GET", "POST"])
def create_centre() -> Any:
    form = request.form if request.method == "POST" else MultiDict()
    if request.method == "GET":
        return form_page("console/centre_new.html", form, None)
    values = kept(form, "code", "name", "brand", "associate_of", "reason")
    try:
        staff.clean_reason(values["reason"])
    except DomainError as exc:
        return form_page("console/centre_new.html", form, exc)
    if not confirmed():
        code = values["code"].upper()
        lines = [
            _(
                "A new centre %(code)s, %(name)s, of %(brand)s.",
                code=code,
                name=values["name"],
                brand=_brand_name(values["brand"]),
            )
        ]
        if values["associate_of"]:
            lines.append(
                _(
                    "It will be an associate centre of %(code)s.",
                    code=values["associate_of"].upper(),
                )
            )
        question = Question(
            _("Create centre %(code)s?", code=code),
            lines,
            _("Yes, create the centre"),
            warning=False,
            hidden=values,
        )
        return ask(question, url_for("console.create_centre"), url_for("console.centres"))
    with transaction(DomainError) as tx:
        org = centres.create(
            current_user,
            values["code"],
            values["name"],
            values["brand"],
            values["associate_of"],
            values["reason"],
            catalogue(),
        )
        return redirect(url_for("console.centre", code=org.code))
    return form_page("console/centre_new.html", form, tx.error)


@bp.route("/centres/<code>/rename", methods=["GET", "POST"])
def rename_centre(code: str) -> Any:
    org = centre_or_404(code)
    form = request.form if request.method == "POST" else MultiDict({"name": org.name})
    if request.method == "GET":
        return form_page("console/centre_rename.html", form, None, org=org)
    values = kept(form, "name", "reason")
    try:
        staff.clean_reason(values["reason"])
    except DomainError as exc:
        return form_page("console/centre_rename.html", form, exc, org=org)
    if not confirmed():
        question = Question(
            _("Rename %(code)s?", code=org.code),
            [_("%(old)s will be called %(new)s.", old=org.name, new=values["name"])],
            _("Yes, rename the centre"),
            warning=False,
            hidden=values,
        )
        return ask(
            question,
            url_for("console.rename_centre", code=org.code),
            url_for("console.centre", code=org.code),
            org=org,
        )
    with transaction(DomainError) as tx:
        centres.rename(current_user, org, values["name"], values["reason"])
        return redirect(url_for("console.centre", code=org.code))
    return form_page("console/centre_rename.html", form, tx.error, org=org)
