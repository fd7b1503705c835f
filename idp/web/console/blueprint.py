"""The console's blueprint and its gate: staff only, signed in with a passkey."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from idp.domain import passkeys, sessions, staff
from idp.domain.passkeys import PasskeyRefused
from idp.web.auth import passkey_relying_party
from idp.web.forms import safe_next
from idp.web.passkeys import HANDLE, ceremony_options, challenge_ttl, refused, where
from idp.web.transaction import transaction

bp = Blueprint("console", __name__, url_prefix="/console")


@dataclass(frozen=True)
class Section:
    """One entry of the console's menu."""

    endpoint: str
    name: Any  # lazy text: translated when the menu is drawn
    key: str
    operators_only: bool = False


# The menu: each module of the console adds its section when imported; shown in this order.
SECTIONS: list[Section] = []
ORDER = ("centres", "people", "audit", "clients", "keys")


def add_section(endpoint: str, name: Any, key: str, *, operators_only: bool = False) -> None:
    SECTIONS.append(Section(endpoint, name, key, operators_only))


@bp.app_context_processor
def _sections() -> dict[str, Any]:
    def console_sections() -> list[tuple[str, str, str]]:
        """(endpoint, name, key) of each section the signed-in staff member may open."""
        if not current_user.is_authenticated or not current_user.is_staff:
            return []
        shown = [s for s in SECTIONS if current_user.is_operator or not s.operators_only]
        shown.sort(key=lambda s: ORDER.index(s.key) if s.key in ORDER else len(ORDER))
        return [(s.endpoint, str(s.name), s.key) for s in shown]

    return {"console_sections": console_sections}


# Reachable from a sign-in without a passkey: confirming with one.
CONFIRMING = {"console.confirm", "console.confirm_options"}


def gate(*, operators_only: bool = False) -> Any:
    """Refuse anyone but staff (404: the pages do not exist for them), and staff signed in
    without a passkey (sent to confirm with one). ``operators_only``: the operator's pages
    (clients), refused to the support desk too."""
    if not current_user.is_staff or (operators_only and not current_user.is_operator):
        abort(404)
    if not passkey_relying_party().usable:
        # Browsers offer passkeys only on a named site: served on an IP address, nobody can
        # prove themselves strongly enough for the console.
        return render_template("console/unavailable.html"), 403
    if request.endpoint in CONFIRMING:
        return None
    if not staff.phishing_resistant(current_user.auth_session.amr):
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.confirm", next=safe_next(wanted)))
    return None


@bp.before_request
@login_required
def _staff_only() -> Any:
    return gate()


@bp.get("/")
def index() -> Any:
    return render_template("console/index.html")


@bp.post("/confirm/options")
def confirm_options() -> Any:
    with transaction():
        handle, options = passkeys.authentication_options(
            passkey_relying_party(), challenge_ttl(), current_user
        )
    return ceremony_options(handle, options)


@bp.route("/confirm", methods=["GET", "POST"])
def confirm() -> Any:
    """Sign in again with a passkey, in the same session: a sign-in made with a password and
    an emailed code (or an app's code) is not enough for the console."""
    next_url = safe_next(request.values.get("next")) or url_for("console.index")
    error = None
    if request.method == "POST":
        answer = request.form.get("credential") or ""
        handle = session.pop(HANDLE, None)
        with transaction(PasskeyRefused) as tx:
            proof = passkeys.authenticate(
                handle, answer, passkey_relying_party(), where(), current_user
            )
            sessions.step_up(current_user.auth_session, proof.amr)
            staff.record(current_user, "confirmed", target_type="user", target_id=current_user.sub)
            return redirect(next_url)
        assert isinstance(tx.error, PasskeyRefused)
        error = refused(handle, answer, tx.error)
    elif staff.phishing_resistant(current_user.auth_session.amr):
        return redirect(next_url)
    return render_template("console/confirm.html", error=error, next_url=next_url), (
        400 if error else 200
    )
