"""Self sign-up (*Create account*): name, email and password, then an emailed code.

The account has no organisation and no roles until an exams officer adds it. An address that
already has an account gets the same pages, while its owner is told by email; nothing is
created and no code will work (see Pending.decoy).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from idp import throttle
from idp.domain import audit, mailing, passwords, users, verification
from idp.domain.mailing import Mail
from idp.errors import InvalidInput, TooSoon
from idp.languages import say
from idp.models import UserOrigin
from idp.security import passwords as hasher
from idp.web.auth import ask_for_code, code_policy
from idp.web.forms import field, name_errors
from idp.web.transaction import transaction

bp = Blueprint("signup", __name__)


@bp.route("/signup", methods=["GET", "POST"])
@throttle.by_address("signup")
def signup() -> Any:
    auth = current_app.extensions["idp.settings"].auth
    if not auth.self_signup:
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = {k: field(request.form, k) for k in ("given_name", "family_name", "email")}
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        errors = name_errors(form)
        address = ""
        try:
            address = users.normalise_email(form["email"])
        except InvalidInput as exc:
            errors.append(("email", say(exc)))
        password = request.form.get("password") or ""
        try:
            passwords.check_policy(
                password,
                auth.password_min_length,
                email=address or None,
                names=(form["given_name"], form["family_name"]),
            )
            passwords.check_pwned(password, auth.pwned_passwords_url)
        except InvalidInput as exc:
            errors.append(("password", say(exc)))
        else:
            if password != (request.form.get("confirm_password") or ""):
                errors.append(("confirm_password", _("The passwords do not match.")))
        if not errors:
            with transaction():
                existing = users.find_by_email(address)
                if existing is not None:
                    # The work a new account costs (a hash, a code and its email), so the time
                    # says nothing (tests/security/test_enumeration.py); the owner gets a notice.
                    hasher().hash(password)
                    try:
                        verification.issue(existing, "signup", address, code_policy(), send=False)
                    except TooSoon:
                        pass
                    mailing.send(Mail("signup_exists", address, locale=existing.locale))
                    audit.record("user.signup_refused", target_type="user", target_id=existing.sub)
                    return ask_for_code(existing, "signup", None, None, decoy_for=address)
                user = users.create(
                    email=address,
                    given_name=form["given_name"],
                    family_name=form["family_name"],
                    password=password,
                    password_min_length=auth.password_min_length,
                    origin=UserOrigin.SELF,
                    awaiting_verification=True,
                )
                return ask_for_code(user, "signup", None, None)
    return render_template(
        "auth/signup.html", errors=errors, form=form, min_length=auth.password_min_length
    )
