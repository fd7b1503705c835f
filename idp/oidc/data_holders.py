"""Asking services whether they hold a person's data, and having it transferred, before the
person is deleted from an organisation.

A client with a ``user_data_uri`` is a data holder. The provider POSTs it a signed request
(``request=<JWT>``, form-encoded; header ``typ: user-data+jwt``, signed like our ID tokens, so
the service checks it against our JWKS) with the claims ``iss``, ``aud`` (the client id),
``iat``, ``exp`` (2 minutes), ``jti``, ``sub`` (the person), ``org`` (the centre number) and
``action``:

- ``query``: the service answers ``{"holds_data": true|false, "summary": "3 submissions"}``;
- ``transfer``: with ``transfer_to`` (another person's ``sub`` in the same organisation); the
  service moves the data and answers ``{"transferred": true}``, or a 4xx
  ``{"error": ..., "error_description": ...}`` saying why it would not.

Every client with a ``user_data_uri`` is asked, enabled or not. A service that cannot be asked
(down, slow, a bad answer, even one that is not HTTP) counts as holding data: nobody is
deleted while a service may still hold what they made. Requests time out after a few seconds
and answers over 64 KiB are refused.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from idp import outbound
from idp.extensions import db
from idp.models import Client, Organisation, User
from idp.oidc.keys import sign_for_client

log = logging.getLogger(__name__)
TOKEN_TYPE = "user-data+jwt"
TOKEN_TTL = 120
TIMEOUT = 5.0
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Holding:
    """What one data holder said about a person."""

    client_id: str
    service: str
    holds_data: bool
    summary: str = ""
    problem: str = ""  # set when the service could not be asked

    @property
    def blocks_deletion(self) -> bool:
        return self.holds_data or bool(self.problem)


class TransferRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def signed_request(client_id: str, claims: dict[str, Any]) -> str:
    return sign_for_client(client_id, claims, TOKEN_TYPE, TOKEN_TTL)


def _post(client: Client, token: str, timeout: float) -> tuple[int, dict[str, Any]]:
    """POST the signed request to the client's user data URI (guarded by ``idp.outbound`` for
    a self-registered client); the status and the JSON object answered."""
    uri = client.user_data_uri
    assert uri
    allow = outbound.allows_private(
        client.registration_token_hash is not None,
        deployment_allows=current_app.extensions[
            "idp.settings"
        ].oidc.registration_allows_private_addresses,
    )
    request = urllib.request.Request(
        uri,
        data=urlencode({"request": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with outbound.urlopen(request, timeout=timeout, allow_private=allow) as response:
            status, raw = response.status, response.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(MAX_ANSWER + 1)
    if len(raw) > MAX_ANSWER:
        raise ValueError("the answer is too large")
    body = json.loads(raw or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    return status, body


def holders() -> list[Client]:
    """The clients that hold people's data, disabled ones too: a service switched off for
    sign-in may still hold what people made there (and one that cannot be reached blocks)."""
    return list(
        db.session.scalars(
            select(Client).where(Client.user_data_uri.is_not(None)).order_by(Client.name)
        )
    )


def ask(person: User, org: Organisation, timeout: float = TIMEOUT) -> list[Holding]:
    """What every data holder holds of ``person`` at ``org``."""
    found = []
    for client in holders():
        assert client.user_data_uri
        token = signed_request(
            client.client_id, {"sub": person.sub, "org": org.code, "action": "query"}
        )
        try:
            status, body = _post(client, token, timeout)
            if status != 200 or not isinstance(body.get("holds_data"), bool):
                raise ValueError(f"unexpected answer (HTTP {status})")
        except (OSError, ValueError, http.client.HTTPException) as exc:
            log.warning("user data query to %s failed: %s", client.user_data_uri, exc)
            found.append(
                Holding(client.client_id, client.name, False, problem=_("it could not be reached"))
            )
            continue
        summary = body.get("summary")
        summary = summary[:200] if isinstance(summary, str) else ""
        found.append(Holding(client.client_id, client.name, body["holds_data"], summary))
    return found


def transfer(
    client: Client, person: User, to: User, org: Organisation, timeout: float = TIMEOUT
) -> None:
    """Ask ``client`` to give what ``person`` holds at ``org`` to ``to``; TransferRefused with
    the service's reason when it does not."""
    assert client.user_data_uri
    token = signed_request(
        client.client_id,
        {"sub": person.sub, "org": org.code, "action": "transfer", "transfer_to": to.sub},
    )
    try:
        status, body = _post(client, token, timeout)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        log.warning("user data transfer at %s failed: %s", client.user_data_uri, exc)
        raise TransferRefused(
            _("%(service)s could not be reached. Try again later.", service=client.name)
        ) from None
    if status == 200 and body.get("transferred") is True:
        return
    reason = body.get("error_description")
    raise TransferRefused(
        _("%(service)s did not transfer the data: %(reason)s", service=client.name, reason=reason)
        if isinstance(reason, str) and reason
        else _(
            "%(service)s did not transfer the data (HTTP %(status)s).",
            service=client.name,
            status=status,
        )
    )
