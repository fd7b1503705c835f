"""What the pages of My Organisation share: the organisations the signed-in person manages
(worked out once per request), the catalogue and the settings the rules need, the roles a page
offers, the users list's query (the list and its CSV download read it alike), and the answer
to an action on one person (kept or refused, back on their page)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from idp.catalogue import Catalogue, Role
from idp.domain import management, member_list
from idp.domain.member_list import ListQuery
from idp.errors import DomainError, NotFound
from idp.languages import say
from idp.models import Organisation
from idp.web.forms import field


def app_catalogue() -> Catalogue:
    """The catalogue the app was configured with."""
    return current_app.extensions["idp.settings"].catalogue


def management_settings() -> management.ManagementSettings:
    """What ``domain.management``'s rules need from the app's configuration."""
    settings = current_app.extensions["idp.settings"]
    return management.ManagementSettings(
        settings.catalogue,
        settings.auth.temporary_password_ttl,
        settings.auth.password_reset_ttl // 60,
        settings.auth.join_invitation_ttl,
        settings.auth.address_change_ttl,
    )


def manageable() -> list[Organisation]:
    """The organisations the signed-in user manages (worked out once per request)."""
    if "idp_manageable" not in g:
        g.idp_manageable = management.manageable(current_user, app_catalogue())
    return g.idp_manageable


def managed_org(code: str) -> Organisation:
    """The organisation with centre number ``code`` if the signed-in user manages it, else
    NotFound: a guessed code reveals nothing."""
    wanted = (code or "").strip().upper()
    org = next((o for o in manageable() if o.code == wanted), None)
    if org is None:
        raise NotFound("There is no such organisation, or you do not manage it.")
    return org


def role_groups(org: Organisation) -> list[tuple[str, list[Role]]]:
    """The roles offered at ``org``, grouped by service, in catalogue order."""
    catalogue = app_catalogue()
    groups: dict[str, list[Role]] = {}
    for role in management.grantable_roles(org, catalogue):
        groups.setdefault(catalogue.services_by_key[role.service].name, []).append(role)
    return list(groups.items())


def whole_number(text: str) -> int | None:
    """A non-negative whole number typed in a form (ASCII or other decimal digits), else None:
    ``str.isdigit`` accepts '²', which ``int`` refuses."""
    if not text.isdecimal():
        return None
    try:
        return int(text)
    except ValueError:
        return None


def list_query(args: MultiDict[str, str]) -> ListQuery:
    """The users list's search, filters, order and page, from its address's query."""

    def number(name: str, default: int) -> int:
        return whole_number(args.get(name, "")) or default

    per_page = number("per_page", 15)
    return ListQuery(
        search=field(args, "q", 100),
        status=field(args, "status", 16),
        role=field(args, "role", 64),
        sort=field(args, "sort", 16) or "name",
        descending=args.get("dir") == "desc",
        page=number("page", 1),
        per_page=per_page if per_page in member_list.PAGE_SIZES else 15,
        invitations=True,
    )


# -- after an action on one person ----------------------------------------------------------------


def person_page(org: Organisation, sub: str) -> Response:
    """Back to the person's page (or the invitation's)."""
    return redirect(url_for("organisation.view_user", code=org.code, sub=sub))


def saved(org: Organisation, sub: str, message: str) -> Response:
    """The action is kept (its transaction committed), and ``message`` says so on the person's
    page."""
    flash(message, "success")
    return person_page(org, sub)


def refused(org: Organisation, sub: str, exc: DomainError) -> Response:
    """The refused action is rolled back (by its transaction); its reason is shown on the
    person's page."""
    flash(say(exc), "warning")
    return person_page(org, sub)


def not_for_invitation(org: Organisation, sub: str) -> Response:
    """An action on a member alone, asked of an invitation to join: refused on its page."""
    flash(_("That cannot be done to an invitation."), "warning")
    return person_page(org, sub)
