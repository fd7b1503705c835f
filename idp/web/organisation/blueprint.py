"""My Organisation's one blueprint, ``/organisation``: every page needs a signed-in user, and
each view then checks the organisation (``common.managed_org``)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("organisation", __name__, url_prefix="/organisation")


@bp.before_request
@login_required
def _signed_in_only() -> None:
    """Every page needs a signed-in user; each view then checks the organisation."""
