"""Where a page's forms may lead: the page's Content-Security-Policy names our origin in
``form-action``, plus the origins a view notes here and those of the authorization requests
this browser has under way (its sign-in pages end in a redirect to the relying party)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g

if TYPE_CHECKING:
    from idp.config import Upstream


def allow_form_target(url: str) -> None:
    """Let this page's forms lead, through a redirect after the post, to ``url``'s origin."""
    if url:
        g.setdefault("idp_form_targets", set()).add(url)


def allow_upstream(upstream: Upstream) -> None:
    """A connected-account provider: its authorization endpoint, configured or, for an OpenID
    provider, found by discovery once read, and its issuer (the endpoint's origin for Google
    and Microsoft, before this process has read their discovery)."""
    from idp.oidc.upstream import known_authorization_endpoint

    allow_form_target(known_authorization_endpoint(upstream))
    allow_form_target(upstream.issuer)


def form_targets() -> set[str]:
    from idp.oidc import interactions

    return set(g.get("idp_form_targets", ())) | set(interactions.redirect_uris())
