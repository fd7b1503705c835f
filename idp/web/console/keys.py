"""The console's Signing keys, for operators: the keys that sign ID tokens, and rotating one
(after a confirmation page, with a reason). The same as ``idp keys list`` and ``idp keys
rotate``; pruning stays on the command line (cron), after the tokens a key signed expire."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from idp.domain import staff
from idp.errors import N_, DomainError, InvalidInput
from idp.languages import say
from idp.web.console.blueprint import add_section, bp, gate
from idp.web.console.centres import kept
from idp.web.organisation.confirmation import Question, confirmed
from idp.web.transaction import transaction

add_section("console.keys", _l("Signing keys"), "keys", operators_only=True)
ALGORITHMS = ("RS256", "ES256")


def _page(values: MultiDict[str, str], error: DomainError | None) -> Any:
    keyring = current_app.extensions["idp.keyring"]
    errors = [(getattr(error, "field", None) or "", say(error))] if error else []
    return render_template(
        "console/keys.html",
        keys=keyring.rows(),
        algorithms=ALGORITHMS,
        default_alg=current_app.extensions["idp.settings"].oidc.signing_alg,
        values=values,
        errors=errors,
    ), (400 if error else 200)


@bp.get("/keys")
def keys() -> Any:
    refused = gate(operators_only=True)
    if refused is not None:
        return refused
    return _page(MultiDict(), None)


@bp.post("/keys/rotate")
def rotate_key() -> Any:
    """A new key of the algorithm signs from now on; the one it replaces stays published until
    ``idp keys prune`` removes it, so tokens it signed still verify."""
    refused = gate(operators_only=True)
    if refused is not None:
        return refused
    values = kept(request.form, "alg", "reason")
    try:
        if values["alg"] not in ALGORITHMS:
            raise InvalidInput(N_("Choose RS256 or ES256."), field="alg")
        staff.clean_reason(values["reason"])
    except DomainError as exc:
        return _page(request.form, exc)
    if not confirmed():
        question = Question(
            _("Rotate the %(alg)s signing key?", alg=values["alg"]),
            [
                _("A new %(alg)s key signs every ID token from now on.", alg=values["alg"]),
                _(
                    "The key it replaces stays in the published key set until it is pruned, so "
                    "the tokens it signed still verify."
                ),
            ],
            _("Yes, rotate the key"),
            warning=False,
            hidden=values,
        )
        return render_template(
            "organisation/confirm.html",
            question=question,
            action=url_for("console.rotate_key"),
            cancel=url_for("console.keys"),
        )
    with transaction(DomainError):
        staff.record(current_user, "key_rotated", reason=values["reason"], alg=values["alg"])
        # The keyring commits the new key, and this record with it.
        row = current_app.extensions["idp.keyring"].rotate(values["alg"])
    flash(_("A new %(alg)s key signs from now on.", alg=row.alg), "success")
    return redirect(url_for("console.keys"))
