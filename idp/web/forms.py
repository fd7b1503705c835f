"""Small parsers for the pages' forms: they trim and bound input and leave the rules to the
domain (the new-password form asks ``domain.passwords`` for its verdict)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from idp.config import AuthSettings
from idp.domain import passwords, users
from idp.errors import InvalidInput
from idp.languages import say
from idp.models import User

MAX_FIELD = 1024


def field(form: MultiDict[str, str], name: str, limit: int = MAX_FIELD) -> str:
    """The field trimmed and cut at ``limit``. An address to be stored is read at the default
    limit, well past an address's 254: one too long is refused, not cut into another."""
    return (form.get(name) or "").strip()[:limit]


def safe_next(value: str | None) -> str | None:
    """A local path to go to after signing in, or None; never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def mask_email(address: str) -> str:
    """``jane.smith@example.org`` -> ``j*********@example.org``: recognisable, not harvestable."""
    local, _at, domain = address.partition("@")
    if not domain:
        return address
    return local[:1] + "*" * max(len(local) - 1, 1) + "@" + domain


NAME_LABELS = (("given_name", "first or given name"), ("family_name", "last name or surname"))


def name_errors(form: dict[str, str]) -> list[tuple[str, str]]:
    """Errors of a *first or given name* + *last name or surname* pair, as (field id, message)."""
    errors = []
    for key, label in NAME_LABELS:
        try:
            users.clean_name(form[key], label)
        except InvalidInput as exc:
            errors.append((key, say(exc)))
    return errors


def new_password_errors(
    user: User,
    form: MultiDict[str, str],
    auth: AuthSettings,
    names: tuple[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Errors of a *new password* + *confirm* pair, as (field id, message); ``names`` when the
    form gives the user a new name too."""
    new = form.get("password") or ""
    try:
        passwords.check_for(user, new, auth, names)
    except InvalidInput as exc:
        return [("password", say(exc))]
    if new != (form.get("confirm_password") or ""):
        return [("confirm_password", _("The passwords do not match."))]
    return []
