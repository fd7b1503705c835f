"""The organisation an authorization speaks for, and when to ask the person (the organisation
chooser, an interaction reached by redirect as consent is).

Nothing is picked by the order of centre numbers: either the person chose (in this
interaction, with *Change Organisation*, or earlier in the sign-in session), or a relying
party named a centre they may act for (``org_hint``), or only one organisation holds roles for
the client's services (``claims.acting_for``). Otherwise the person is asked.
"""

from __future__ import annotations

from typing import Any

from idp.catalogue import Catalogue
from idp.models import AuthSession
from idp.oidc import claims, store


class Needed:
    """The organisation chooser is needed (a value ``settle`` may return)."""


NEEDED = Needed()


def settle(
    auth_session: AuthSession,
    client: Any,
    *,
    wants_org: bool,
    prompt: set[str],
    hint: str | None,
    chosen_here: bool,
    catalogue: Catalogue,
) -> int | None | Needed:
    """The organisation the code will speak for, or ``NEEDED`` when the person must choose.

    In order: the one chosen in this very interaction; the chooser again for
    ``prompt=select_account`` (when there is a choice); the relying party's ``org_hint`` when
    the person may act for it; the session's choice while it holds; then ``acting_for`` (the
    one organisation holding roles for the client's services), the chooser when several do.
    A client that receives no ``org``/``roles`` (``wants_org`` false) is never asked."""
    user_id = auth_session.user_id
    chosen = auth_session.organisation_id
    if chosen_here or not wants_org:
        return chosen
    if "select_account" in prompt and has_a_choice(user_id, catalogue):
        return NEEDED
    hinted = org_hint(hint, user_id, catalogue)
    if hinted is not None:
        return hinted
    try:
        acting = claims.acting_for(user_id, client, chosen, catalogue)
    except claims.ChoiceNeeded:
        return NEEDED
    return acting.organisation_id if acting else None


def org_hint(hint: str | None, user_id: int, catalogue: Catalogue) -> int | None:
    """The organisation a relying party asked for with ``org_hint`` (a centre number), when
    the person may act for it. Any other value is ignored, never an error: the answer says
    nothing about centres the person has nothing to do with."""
    code = (hint or "").strip().upper()
    if not code or len(code) > 20:
        return None
    organisation_id = store.organisation_id(code)
    if organisation_id is None:
        return None
    found = claims.may_act_for(user_id, organisation_id, catalogue)
    return found.organisation_id if found else None


def has_a_choice(user_id: int, catalogue: Catalogue) -> bool:
    """Whether the person may act for more than one organisation."""
    own = {m.organisation_id for m in store.memberships(user_id)}
    return len(own | store.managed_associate_ids(user_id, catalogue.management_roles())) > 1
