"""TOTP (RFC 6238, via pyotp) as a second factor, with ten single-use recovery codes.

The seed is stored encrypted (Fernet, keyed from the app's secret key). A code is accepted one
step either side of now, and never twice: the last accepted step is kept and only a later step
passes, so a code seen over someone's shoulder cannot be replayed.
"""

from __future__ import annotations

import pyotp
from sqlalchemy import delete, or_, select, update

from idp import clock
from idp.domain import audit
from idp.errors import N_, CodeInvalid, Conflict, InvalidInput
from idp.extensions import db
from idp.models import RecoveryCode, User
from idp.security import READABLE_UPPER, constant_time_equals, fernet, keyed_hash, readable_secret

ISSUER_NAME = "My Cambridge"
STEP = 30
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER_NAME)


def _digits(code: str) -> str:
    entered = "".join(code.split())
    if not (len(entered) == 6 and entered.isascii() and entered.isdigit()):
        raise InvalidInput(N_("Enter the 6-digit code from your authenticator app."))
    return entered


def _matching_step(secret: str, entered: str) -> int | None:
    totp = pyotp.TOTP(secret)
    current = clock.timestamp() // STEP
    for step in (current - 1, current, current + 1):
        if constant_time_equals(totp.at(step * STEP), entered):
            return step
    return None


def _secret_of(user: User) -> str:
    assert user.totp_secret_enc is not None
    return fernet("totp").decrypt(user.totp_secret_enc.encode()).decode()


def enable(user: User, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the user shows a current code from the app; return recovery codes."""
    if user.has_totp:
        raise Conflict(N_("An authenticator app is already set up. Remove it first."))
    step = _matching_step(secret, _digits(code))
    if step is None:
        raise CodeInvalid(
            N_("The code is not correct. Check the time on your device and try again.")
        )
    user.totp_secret_enc = fernet("totp").encrypt(secret.encode()).decode()
    user.totp_enabled_at = clock.now()
    user.totp_last_step = step
    audit.record("user.totp_enabled", actor=user, target_type="user", target_id=user.sub)
    return new_recovery_codes(user)


def disable(user: User) -> None:
    user.totp_secret_enc = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("user.totp_disabled", actor=user, target_type="user", target_id=user.sub)


def verify(user: User, code: str) -> None:
    """Accept a current, unused code or raise CodeInvalid."""
    entered = _digits(code)
    if not user.has_totp:
        raise CodeInvalid()
    step = _matching_step(_secret_of(user), entered)
    if step is None:
        raise CodeInvalid(
            N_("The code is not correct. Check your authenticator app and try again.")
        )
    # Compare-and-set, so two requests racing with the same code cannot both pass.
    table = User.__table__
    accepted = db.session.execute(
        update(table)
        .where(
            table.c.id == user.id,
            or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    if accepted.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeInvalid(
            N_("This code has already been used. Wait for the next code in your app.")
        )


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones, shown to them once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [readable_secret(10, READABLE_UPPER) for _ in range(RECOVERY_CODES)]
    now = clock.now()
    for code in codes:
        db.session.add(
            RecoveryCode(user_id=user.id, code_hash=keyed_hash(code, "recovery"), created_at=now)
        )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def remaining_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def use_recovery_code(user: User, code: str) -> None:
    normalised = _normalise_recovery(code)
    if len(normalised) != 10:
        raise InvalidInput(N_("Enter one of your recovery codes, like ABCDE-FGHJK."))
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == keyed_hash(normalised, "recovery"),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeInvalid(N_("That recovery code is not correct or has already been used."))
    audit.record("user.recovery_code_used", actor=user, target_type="user", target_id=user.sub)
