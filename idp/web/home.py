"""The home page: who is signed in and the services they may use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    catalogue = current_app.extensions["idp.settings"].catalogue
    held = {key for m in current_user.memberships for key in m.role_keys}
    tiles = [
        {
            "service": service,
            "allowed": any(r.service == service.key for r in catalogue.roles if r.key in held),
        }
        for service in catalogue.services
        if service.url
    ]
    return render_template("home/index.html", tiles=tiles)
