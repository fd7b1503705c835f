"""A sign-in between the password and the end of the steps that follow it.

After a correct password the user may still have to choose a new password (temporary
password), enter an emailed code (activation, new device) or a TOTP code. Until then there is
no sign-in session: the browser's signed session cookie holds only which account is part-way
through, which step it is on, the authorization request to resume, a deadline and a
fingerprint of the password it started from, encrypted (the session cookie is only signed, and
a sign-up must not show whose account an address belongs to). A password change (the owner
activating the account, a re-sent invitation, a reset) ends every such half-done sign-in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken
from flask import session
from sqlalchemy import select

from idp import clock
from idp.domain import passwords
from idp.extensions import db
from idp.models import User, UserStatus
from idp.security import constant_time_equals, fernet

KEY = "pending"
SET_PASSWORD = "set_password"
VERIFY = "verify"
TOTP = "totp"
PASSKEY = "passkey"
STEPS = (SET_PASSWORD, VERIFY, TOTP, PASSKEY)


@dataclass
class Pending:
    user_id: int
    sub: str
    step: str
    expires: float
    purpose: str = ""
    ix: str | None = None
    next: str | None = None
    amr: list[str] = field(default_factory=lambda: ["pwd"])
    # Sign-up with an address that already has an account: the page looks the same, the
    # owner is told by email, and no code can succeed.
    decoy: bool = False
    address: str | None = None
    # No code was sent for this sign-in: the one sent a moment ago (for an earlier, abandoned
    # one) still works and another was not yet allowed; the page says so, and when it was sent.
    earlier_code: bool = False
    credential: str = ""  # passwords.fingerprint of the account when the sign-in began


def begin(user: User, step: str, ttl: int, *, ix: str | None, next_url: str | None) -> Pending:
    pending = Pending(
        user.id,
        user.sub,
        step,
        clock.timestamp() + ttl,
        ix=ix,
        next=next_url,
        credential=passwords.fingerprint(user),
    )
    save(pending)
    return pending


# The plain text is padded to a multiple of this, so the cookie's length says nothing of what
# it holds (a sign-up for a taken address and one for a new address look alike).
PADDED_TO = 1024


def save(pending: Pending) -> None:
    plain = json.dumps(asdict(pending))
    plain += " " * (-len(plain) % PADDED_TO)
    session[KEY] = fernet("pending-sign-in").encrypt(plain.encode()).decode()


def _read() -> dict[str, Any] | None:
    token = session.get(KEY)
    if not isinstance(token, str):
        return None
    try:
        raw = json.loads(fernet("pending-sign-in").decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def clear() -> None:
    session.pop(KEY, None)


def load(step: str) -> tuple[Pending, User] | None:
    """The pending sign-in on this step and its account, or None (none, expired, or the
    account was suspended or its password changed meanwhile)."""
    raw = _read()
    if raw is None:
        return None
    try:
        pending = Pending(**raw)
    except TypeError:
        clear()
        return None
    if pending.step != step or pending.expires < clock.timestamp():
        return None
    user = db.session.scalar(select(User).where(User.id == pending.user_id))
    if user is None or user.sub != pending.sub:
        clear()
        return None
    if not constant_time_equals(pending.credential, passwords.fingerprint(user)):
        clear()
        return None
    if user.status == UserStatus.SUSPENDED and not pending.decoy:
        clear()
        return None
    return pending, user


def current_step() -> str | None:
    raw = _read()
    if raw is not None and raw.get("expires", 0) >= clock.timestamp():
        step = raw.get("step")
        return step if step in STEPS else None
    return None
