"""OpenID Connect Front-Channel Logout 1.0: the signed-out page loads, in hidden frames, the
``frontchannel_logout_uri`` of each client the ended session was used with, with ``iss`` and
``sid``. Browsers that block third-party cookies defeat it; Back-Channel Logout does not
depend on the browser, so clients should prefer that one."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import select

from idp.domain.clients import on_a_redirect_origin
from idp.extensions import db
from idp.models import Client, Token


def frames_for(sid: str) -> list[str]:
    """The front-channel logout URLs of the clients used in session ``sid``."""
    issuer = current_app.extensions["idp.settings"].oidc.issuer
    # No DISTINCT over the JSON column: PostgreSQL has no equality for json.
    used = select(Token.client_id).where(Token.sid == sid)
    rows = db.session.execute(
        select(Client.redirect_uris, Client.extra_metadata).where(Client.client_id.in_(used))
    ).all()
    frames = []
    for redirect_uris, metadata in rows:
        uri = (metadata or {}).get("frontchannel_logout_uri")
        # Only on a redirect URI's origin (Front-Channel Logout 1.0 §2), as registration
        # requires: a URI stored before that rule, or left behind, is not framed.
        if uri and on_a_redirect_origin(uri, redirect_uris):
            separator = "&" if urlsplit(uri).query else "?"
            frames.append(f"{uri}{separator}{urlencode({'iss': issuer, 'sid': sid})}")
    return frames
