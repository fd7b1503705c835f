"""Which requests count against which limit of ``[rate_limits]`` (Flask-Limiter).

Each limit is shared by the views it guards (one count for ``/login`` and
``/login/with/<provider>``), counts only POSTs, and is read from the settings at each request.
The token endpoint counts per client *and* source address, so nobody can spend a client's
allowance by sending its id from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from idp.extensions import limiter


def _setting(name: str) -> Callable[[], str]:
    def value() -> str:
        return str(getattr(current_app.extensions["idp.settings"].rate_limits, name))

    return value


def by_address(name: str) -> Any:
    """POSTs from one source address, against ``[rate_limits] <name>``."""
    return limiter.shared_limit(_setting(name), scope=name, methods=["POST"])


def _signed_in_person() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.sub}"
    return get_remote_address()


def by_person(name: str, exempt_when: Callable[[], bool] | None = None) -> Any:
    """POSTs by one signed-in person, against ``[rate_limits] <name>``."""
    return limiter.shared_limit(
        _setting(name),
        scope=name,
        methods=["POST"],
        key_func=_signed_in_person,
        exempt_when=exempt_when,
    )


def _client_and_address() -> str:
    client_id = request.form.get("client_id", "")
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            client_id = base64.b64decode(header[6:], validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            client_id = ""
    return f"{client_id[:100]}|{get_remote_address()}"


def by_client() -> Any:
    return limiter.shared_limit(
        _setting("token"), scope="token", methods=["POST"], key_func=_client_and_address
    )
