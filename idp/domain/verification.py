"""Emailed verification codes: 6 digits, stored keyed-hashed, short-lived, single-use, with an
attempt cap and a resend interval.

One live code per user and purpose: issuing a new one retires the old. A code proves control
of the address it was sent to; it is not an authentication factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from idp import clock
from idp.domain import mailing
from idp.domain.mailing import Mail
from idp.errors import N_, CodeExpired, CodeInvalid, InvalidInput, TooManyAttempts, TooSoon
from idp.extensions import db
from idp.models import User, VerificationCode
from idp.security import constant_time_equals, keyed_hash, numeric_code

PURPOSES = ("activation", "sign_in", "signup", "add_email", "change_primary")


@dataclass(frozen=True)
class CodePolicy:
    ttl: int = 600
    max_attempts: int = 5
    resend_interval: int = 60


def _hash(user: User, purpose: str, code: str) -> str:
    return keyed_hash(code, f"verification:{user.id}:{purpose}")


def _live(user: User, purpose: str) -> VerificationCode | None:
    return db.session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.user_id == user.id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )


def name_for(user: User, address: str) -> str | None:
    """The name to greet in mail to ``address``: the user's, once ``address`` is a verified
    address of theirs; until then None (a greeting without a name). A name is free text from
    whoever made the account, and whoever reads an unproved address may be someone else."""
    verified = any(e.address == address and e.verified for e in user.emails)
    return user.name if verified else None


def brand_for(user: User) -> str | None:
    """The brand whose look mail to ``user`` wears when it is about no organisation: that of
    every organisation they belong to, when all are of one brand (a teacher at an OCR centre
    gets OCR's look from the invitation on); None (the default look) otherwise."""
    brands = {m.organisation.brand for m in user.memberships}
    return brands.pop() if len(brands) == 1 else None


def issue(user: User, purpose: str, address: str, policy: CodePolicy, *, send: bool = True) -> None:
    """Email a new code to ``address``, retiring any earlier one for this purpose.
    ``send=False`` does all the same work but sends nothing (a decoy's equal effort).

    Raises TooSoon within ``resend_interval`` of the previous code."""
    assert purpose in PURPOSES, purpose
    now = clock.now()
    previous = _live(user, purpose)
    if (
        previous is not None
        and previous.created_at + timedelta(seconds=policy.resend_interval) > now
        and previous.expires_at > now
    ):
        raise TooSoon()
    db.session.execute(
        update(VerificationCode)
        .where(
            VerificationCode.user_id == user.id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = numeric_code(6)
    db.session.add(
        VerificationCode(
            user_id=user.id,
            purpose=purpose,
            address=address,
            code_hash=_hash(user, purpose, code),
            created_at=now,
            expires_at=now + timedelta(seconds=policy.ttl),
        )
    )
    mailing.send(
        Mail(
            "verification_code",
            address,
            {
                "name": name_for(user, address),
                "code": code,
                "purpose": purpose,
                "minutes": policy.ttl // 60,
                "brand": brand_for(user),
            },
            deliver=send,
        )
    )


def check_format(code: str) -> str:
    """The code without spaces, or InvalidInput if it is not six digits."""
    entered = "".join(code.split())
    if not (len(entered) == 6 and entered.isascii() and entered.isdigit()):
        raise InvalidInput(N_("Enter the 6-digit code from the email."))
    return entered


def check(user: User, purpose: str, code: str, policy: CodePolicy) -> str:
    """Use the live code for this purpose; return the address it was sent to.

    A wrong code counts an attempt (the caller commits it even though the check failed)."""
    entered = check_format(code)
    row = _live(user, purpose)
    now = clock.now()
    if row is None:
        raise CodeInvalid()
    if row.expires_at <= now:
        raise CodeExpired()
    if row.attempts >= policy.max_attempts:
        raise TooManyAttempts()
    if not constant_time_equals(_hash(user, purpose, entered), row.code_hash):
        db.session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == row.id)
            .values(attempts=VerificationCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if row.attempts + 1 >= policy.max_attempts:
            raise TooManyAttempts()
        raise CodeInvalid()
    # Single use, even against a concurrent request with the same code.
    used = db.session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == row.id, VerificationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeExpired()
    return row.address


def sent_at(user: User, purpose: str, policy: CodePolicy) -> datetime | None:
    """When the live code for this purpose was sent, while it can still be used (not expired,
    attempts left); else None."""
    row = _live(user, purpose)
    if row is None or row.expires_at <= clock.now() or row.attempts >= policy.max_attempts:
        return None
    return row.created_at


def sent_to(user: User, purpose: str) -> str | None:
    """Where the live code for this purpose went (for the page that asks for it)."""
    row = _live(user, purpose)
    return row.address if row is not None else None


# One index search (ix_verification_codes_address_purpose_at): the window, not the history.
_LATELY = (
    select(VerificationCode.id)
    .where(
        VerificationCode.address == bindparam("address"),
        VerificationCode.purpose == bindparam("purpose"),
        VerificationCode.created_at > bindparam("since"),
    )
    .limit(1)
)


def issued_lately(purpose: str, address: str, policy: CodePolicy) -> bool:
    """Whether a code for ``purpose`` was made for ``address`` (sent, or a decoy never sent),
    for any account, within ``policy.resend_interval``."""
    since = clock.now() - timedelta(seconds=policy.resend_interval)
    found = db.session.scalar(_LATELY, {"address": address, "purpose": purpose, "since": since})
    return found is not None
