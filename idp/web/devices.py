"""Remembered devices: a signed, long-lived cookie listing (keyed digests of) the accounts that
finished an emailed-code check in this browser, so the code is asked for on new devices only."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature

from idp.models import User
from idp.security import keyed_hash, serializer

MAX_ACCOUNTS = 5


def _cookie_name() -> str:
    secure = current_app.config["SESSION_COOKIE_SECURE"]
    return "__Host-idp_device" if secure else "idp_device"


def _tag(user: User) -> str:
    # Bound to the password: after a password change or reset every device is new again.
    return keyed_hash(f"{user.sub}:{user.password_changed_at}", "device")[:24]


def _tags(max_age: int) -> list[str]:
    raw = request.cookies.get(_cookie_name())
    if not raw:
        return []
    try:
        value = serializer("device").loads(raw, max_age=max_age)
    except BadSignature:
        return []
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def known(user: User, max_age: int) -> bool:
    return _tag(user) in _tags(max_age)


def remember(response: Any, user: User, max_age: int) -> None:
    tags = [t for t in _tags(max_age) if t != _tag(user)]
    tags = [*tags[-(MAX_ACCOUNTS - 1) :], _tag(user)]
    response.set_cookie(
        _cookie_name(),
        serializer("device").dumps(tags),
        max_age=max_age,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )
