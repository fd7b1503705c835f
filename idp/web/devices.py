"""Remembered devices: a signed, long-lived cookie listing (keyed digests of) the accounts that
finished a sign-in in this browser, so the emailed code is asked for on new devices only, and
carrying a random id of its own, so the password back-off can count this browser's wrong
passwords apart from everyone else's (``idp.domain.throttling``)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature

from idp.models import User
from idp.security import keyed_hash, random_token, serializer

MAX_ACCOUNTS = 5


def _cookie_name() -> str:
    secure = current_app.config["SESSION_COOKIE_SECURE"]
    return "__Host-idp_device" if secure else "idp_device"


def _tag(user: User) -> str:
    # Bound to the password: after a password change or reset every device is new again.
    return keyed_hash(f"{user.sub}:{user.password_changed_at}", "device")[:24]


def _read(max_age: int) -> tuple[str | None, list[str]]:
    """The cookie's device id and account tags; (None, []) without a valid one. A cookie of an
    earlier release is a bare list of tags, with no id."""
    raw = request.cookies.get(_cookie_name())
    if not raw:
        return None, []
    try:
        value = serializer("device").loads(raw, max_age=max_age)
    except BadSignature:
        return None, []
    if isinstance(value, list):
        value = {"tags": value}
    if not isinstance(value, dict):
        return None, []
    device = value.get("id")
    tags = value.get("tags")
    return (
        device if isinstance(device, str) else None,
        [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
    )


def known(user: User, max_age: int) -> bool:
    return _tag(user) in _read(max_age)[1]


def this_device(user: User, max_age: int) -> str | None:
    """A digest of this browser's device id, if it has signed in to ``user``'s account before
    (what a wrong password's event records; the id itself stays in the cookie)."""
    device, tags = _read(max_age)
    if device is None or _tag(user) not in tags:
        return None
    return keyed_hash(device, "device-id")[:22]


def remember(response: Any, user: User, max_age: int) -> None:
    device, tags = _read(max_age)
    tags = [t for t in tags if t != _tag(user)]
    tags = [*tags[-(MAX_ACCOUNTS - 1) :], _tag(user)]
    response.set_cookie(
        _cookie_name(),
        serializer("device").dumps({"id": device or random_token(16), "tags": tags}),
        max_age=max_age,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )
