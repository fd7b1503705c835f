"""OpenID Connect Back-Channel Logout 1.0: when sign-in sessions end (sign-out, *sign out
everywhere*, a password reset, a suspension), every client that received tokens in one of them
and registered a ``backchannel_logout_uri`` is sent a signed logout token.

The domain notes the ended sessions on the database session (``domain.sessions.ENDED``). Just
before the transaction commits, this module finds the clients and signs their logout tokens;
once it has committed they are POSTed after the response has been sent (``idp.deferred``), with
a short timeout and a bounded number of tries, so a slow or absent service never holds up the
person signing out. A rolled-back transaction sends nothing.
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from idp import deferred, outbound
from idp.domain.sessions import ENDED
from idp.models import Client, Token, User
from idp.oidc.keys import sign_for_client

log = logging.getLogger(__name__)
PENDING = "idp.backchannel_pending"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TTL = 120
ATTEMPTS = 3
TIMEOUT = 5.0


def logout_token(client_id: str, sid: str, sub: str) -> str:
    """A logout token (Back-Channel Logout 1.0 §2.4), signed like our ID tokens."""
    claims = {"sub": sub, "sid": sid, "events": {EVENT: {}}}
    return sign_for_client(client_id, claims, "logout+jwt", TOKEN_TTL)


def deliver(
    uri: str,
    token: str,
    *,
    allow_private: bool,
    attempts: int = ATTEMPTS,
    timeout: float = TIMEOUT,
) -> bool:
    """POST the token; a 2xx answer is success. Retried, then logged. Guarded by
    ``idp.outbound`` unless ``allow_private``; an address it refuses is not retried."""
    body = urlencode({"logout_token": token}).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            uri,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with outbound.urlopen(
                request, timeout=timeout, allow_private=allow_private
            ) as response:
                if 200 <= response.status < 300:
                    return True
        except (urllib.error.URLError, OSError) as exc:
            if isinstance(getattr(exc, "reason", exc), outbound.RefusedAddress):
                log.error("back-channel logout to %s refused: %s", uri, exc)
                return False
            log.warning("back-channel logout to %s, attempt %d: %s", uri, attempt, exc)
        if attempt < attempts:
            time.sleep(0.2 * attempt)
    log.error("back-channel logout to %s failed after %d attempts", uri, attempts)
    return False


def _before_commit(session: Session) -> None:
    sids = session.info.pop(ENDED, None)
    if not sids:
        return
    rows = session.execute(
        select(
            Token.sid,
            User.sub,
            Client.client_id,
            Client.backchannel_logout_uri,
            Client.registration_token_hash,
        )
        .join(Client, Client.client_id == Token.client_id)
        .join(User, User.id == Token.user_id)
        .where(Token.sid.in_(set(sids)), Client.backchannel_logout_uri.is_not(None))
        .distinct()
    ).all()
    pending: list[tuple[str, str, bool]] = session.info.setdefault(PENDING, [])
    deployment_allows = current_app.extensions[
        "idp.settings"
    ].oidc.registration_allows_private_addresses
    for sid, sub, client_id, uri, registration_token in rows:
        if sid and uri:
            allow = outbound.allows_private(
                registration_token is not None, deployment_allows=deployment_allows
            )
            pending.append((uri, logout_token(client_id, sid, sub), allow))


def _after_commit(session: Session) -> None:
    for uri, token, allow in session.info.pop(PENDING, []):
        deferred.after_response(functools.partial(deliver, uri, token, allow_private=allow))


def _after_rollback(session: Session) -> None:
    session.info.pop(ENDED, None)
    session.info.pop(PENDING, None)


def install() -> None:
    """Listen on every database session (idempotent)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
