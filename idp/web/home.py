"""The home page: a tile per service, usable where the user holds a role for it in the
organisation they are acting for, and the switcher when they belong to several."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp.domain import audit, joining, sessions
from idp.extensions import db
from idp.models import Membership

bp = Blueprint("home", __name__)


def _memberships() -> list[Membership]:
    return sorted(current_user.memberships, key=lambda m: m.organisation.code)


def _acting(memberships: list[Membership]) -> Membership | None:
    chosen = current_user.auth_session.organisation_id
    found = next((m for m in memberships if m.organisation_id == chosen), None)
    return (
        found
        or next((m for m in memberships if m.held_role_keys), None)
        or (memberships[0] if memberships else None)
    )


@bp.get("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    catalogue = current_app.extensions["idp.settings"].catalogue
    memberships = _memberships()
    acting = _acting(memberships)
    held = acting.held_role_keys if acting else set()
    brand = acting.organisation.brand if acting else None
    tiles = [
        {
            "service": service,
            "allowed": any(r.service == service.key for r in catalogue.roles if r.key in held),
            # Global Listening: no one at a centre can grant it, so "ask your exams officer"
            # would send people on a fool's errand.
            "officer_only": all(
                not r.grantable_by_centre for r in catalogue.roles if r.service == service.key
            ),
        }
        for service in catalogue.services
        if service.url and (brand is None or service.brand == brand)
    ]
    return render_template(
        "home/index.html",
        tiles=tiles,
        memberships=memberships,
        acting=acting,
        invitations=joining.waiting_for(current_user),
        role_names={r.key: r.name for r in catalogue.roles},
    )


@bp.post("/organisation")
@login_required
def switch_organisation() -> Any:
    """*Change Organisation*: the services' next tokens speak for the chosen one."""
    code = (request.form.get("organisation") or "").strip().upper()
    membership = next((m for m in current_user.memberships if m.organisation.code == code), None)
    if membership is None:
        abort(404)
    sessions.set_organisation(current_user.auth_session, membership.organisation_id)
    audit.record(
        "session.organisation_changed",
        actor=current_user,
        organisation_id=membership.organisation_id,
    )
    db.session.commit()
    flash(
        _(
            "You are now acting for %(code)s – %(name)s.",
            code=membership.organisation.code,
            name=membership.organisation.name,
        ),
        "success",
    )
    return redirect(url_for("home.index"))
