"""The home page: a tile per service of the organisation's brand, under the brand's name,
usable where the user holds a role for it in the organisation they act for, and *Change
Organisation*, where they choose that organisation (``idp.domain.acting``).

A usable tile names the roles held there in words (an administrator sees "Administrator"); a
service with no address configured yet says so instead of leading nowhere (and nothing about
asking for a role); any other service without a role held says why and who to ask."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp import languages
from idp.catalogue import Brand, Catalogue, Service
from idp.domain import acting, joining, management
from idp.errors import NotFound
from idp.models import Organisation, User
from idp.web.transaction import transaction

bp = Blueprint("home", __name__)


def _catalogue() -> Catalogue:
    return current_app.extensions["idp.settings"].catalogue


def locked_reason(
    service: Service, user: User, org: Organisation | None, catalogue: Catalogue
) -> str:
    """Why a tile does not work, and who to ask: never "ask your exams officer" to the exams
    officer herself, nor for a service no one at a centre can grant, nor to an operator, who
    belongs to no centre to run the service itself."""
    officer_only = all(
        not r.grantable_by_centre for r in catalogue.roles if r.service == service.key
    )
    if org is None and user.is_staff:
        return _("You do not have a role for this service.")
    if org is None:
        return _("You do not have a role for this service. Ask your exams officer.")
    board = next((b.name for b in catalogue.brands if b.key == org.brand), "")
    is_officer = org.exams_officer_id == user.id
    if officer_only:
        if is_officer:
            return _(
                "This service is not given to %(centre)s. If your centre needs it, contact"
                " %(board)s.",
                centre=org.code,
                board=board,
            )
        return _("Only the exams officer of %(centre)s can have this service.", centre=org.code)
    if is_officer:
        return _(
            "You do not have a role for this service at %(centre)s, and no one can give"
            " themselves roles. Ask another user manager at your centre, or contact %(board)s.",
            centre=org.code,
            board=board,
        )
    if org.exams_officer is not None:
        return _(
            "You do not have a role for this service at %(centre)s. Ask your exams officer,"
            " %(name)s.",
            centre=org.code,
            name=org.exams_officer.name,
        )
    return _(
        "You do not have a role for this service at %(centre)s. Ask your exams officer.",
        centre=org.code,
    )


def _href(service: Service, catalogue: Catalogue) -> str | None:
    """Where a usable tile leads: this provider's My Organisation for the service of a brand's
    User Management; for any other service, ``/launch/<service>``, which signs the person
    straight in to it (``idp.web.launch``); None while it has no address."""
    if any(catalogue.roles_by_key[k].service == service.key for k in catalogue.management_roles()):
        return url_for("organisation.index")
    return url_for("launch.open", service=service.key) if service.url else None


def _role_words(role_name: str) -> str:
    """A role's name, in the page's language, without its service's ("School Support Hub:
    Administrator" is shown on the School Support Hub's tile as "Administrator")."""
    return languages.words(role_name).rsplit(": ", 1)[-1]


def brand_groups(
    user: User, org: Organisation | None, held: set[str], catalogue: Catalogue
) -> list[tuple[Brand, list[dict[str, Any]]]]:
    """The tiles, by brand in catalogue order, the usable ones first: the services of the brand
    of ``org``, or of every brand when the person acts for no organisation (none of them
    usable then)."""
    groups = []
    for brand in catalogue.brands:
        if org is not None and brand.key != org.brand:
            continue
        tiles = []
        for service in catalogue.services:
            if service.brand != brand.key:
                continue
            roles = [r for r in catalogue.roles if r.service == service.key and r.key in held]
            link = _href(service, catalogue)
            available = bool(link)
            tiles.append(
                {
                    "service": service,
                    "allowed": bool(roles),
                    "href": link if roles else None,
                    "available": available,
                    "roles": [_role_words(r.name) for r in roles],
                    # Asking for a role is no use while the service is not there to use.
                    "reason": (
                        locked_reason(service, user, org, catalogue)
                        if available and not roles
                        else None
                    ),
                }
            )
        if tiles:
            tiles.sort(key=lambda t: not t["allowed"])  # what works first, catalogue order kept
            groups.append((brand, tiles))
    return groups


@bp.get("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    catalogue = _catalogue()
    options = acting.choices(current_user, catalogue)
    org = acting.current(current_user, current_user.auth_session, catalogue)
    must_choose = org is None and len(options) > 1
    membership = acting.membership(current_user, org)
    held = set(membership.held_role_keys) if membership else set()
    if org is not None and org in management.manageable(current_user, catalogue):
        # A Cambridge Associate's officer manages its centres without a membership there.
        held.add(catalogue.management_role(org.brand))
    groups = [] if must_choose else brand_groups(current_user, org, held, catalogue)
    return render_template(
        "home/index.html",
        groups=groups,
        options=options,
        acting=org,
        must_choose=must_choose,
        error=None,
        invitations=joining.waiting_for(current_user),
        role_names={r.key: r.name for r in catalogue.roles},
    )


@bp.route("/change-organisation", methods=["GET", "POST"])
@login_required
def change_organisation() -> Any:
    """*Change Organisation*: the home page, My Organisation and the services' next tokens act
    for the chosen one. An organisation the person may not act for is a 404."""
    catalogue = _catalogue()
    error = None
    if request.method == "POST":
        code = request.form.get("organisation", "")
        if not code:
            error = _("Select an organisation.")
        else:
            with transaction(NotFound) as tx:
                org = acting.choose(current_user, current_user.auth_session, code, catalogue)
            if tx.error is not None:
                abort(404)
            flash(
                _("You are now acting for %(code)s – %(name)s.", code=org.code, name=org.name),
                "success",
            )
            return redirect(url_for("home.index"))
    return render_template(
        "home/change_organisation.html",
        options=acting.choices(current_user, catalogue),
        acting=acting.current(current_user, current_user.auth_session, catalogue),
        error=error,
    )
