"""What the support desk does to a person's account from the console, one function each.

Each runs in the caller's transaction, needs a reason (``staff.clean_reason``) and is
recorded as ``staff.<action>`` about the person (``staff.record``). Nobody acts on their own
account from the console, and only an operator acts on another member of staff's
(``check_may_act``): the desk could otherwise reset, sign out or strip the factors of the
people who oversee it.

Clearing the sign-in back-off: the back-off counts the wrong passwords recorded since the
later of a day ago, the last successful sign-in and the last password change
(``idp.domain.throttling``); the record of ``clear_backoff`` (``staff.backoff_cleared`` about
the person) is one more such starting point, so the next try does not wait. Nothing else
counts wrong passwords per account (the request throttles count per source address).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import delete

from idp import clock
from idp.domain import (
    address_changes,
    audit,
    invitations,
    mailing,
    passkeys,
    passwords,
    staff,
    totp,
    verification,
)
from idp.domain.mailing import Mail
from idp.domain.management import _status_after_suspension
from idp.domain.throttling import BACKOFF_CLEARED
from idp.errors import N_, InvalidInput, PermissionDenied
from idp.extensions import db
from idp.models import RecoveryCode, User, UserStatus

Factor = Literal["totp", "passkey", "recovery_codes"]
FACTORS: tuple[Factor, ...] = ("totp", "passkey", "recovery_codes")
# How the agent made sure the caller is the account's owner before removing a factor.
IDENTITY_CHECKS = ("called_back", "officer_confirmed", "video_with_id")


class NotYourCase(PermissionDenied):
    """A member of the support desk trying to act on their own or another staff account."""


def check_may_act(actor: User, target: User) -> None:
    """Refuse unless ``actor`` is staff, ``target`` is someone else, and ``target`` holds no
    staff role unless ``actor`` is an operator."""
    if not actor.is_staff:
        raise PermissionDenied()
    if actor.id == target.id:
        raise NotYourCase(N_("You cannot do this to your own account from the console."))
    if target.is_staff and not actor.is_operator:
        raise NotYourCase(
            N_("This person is a member of the exam board's staff: only an operator can do this.")
        )


def _begin(actor: User, target: User, reason: str) -> str:
    check_may_act(actor, target)
    return staff.clean_reason(reason)


def resend_invitation(actor: User, target: User, *, reason: str, ttl_seconds: int) -> None:
    """A new temporary password by email for an account that was never activated (the old
    one stops working)."""
    why = _begin(actor, target, reason)
    if target.status != UserStatus.INVITED or not target.must_change_password:
        raise InvalidInput(N_("This person has already activated their account."))
    if address_changes.pending(target) is not None:
        # As My Organisation's resend: it would go to the old, perhaps mistyped, address.
        raise InvalidInput(
            N_(
                "A change of email address is waiting for confirmation: the invitation goes to"
                " the new address once it is confirmed. Cancel the change to send it to the"
                " old address."
            )
        )
    invitations.invite(target, ttl_seconds=ttl_seconds, invited_by=actor)
    staff.record(actor, "invitation_resent", reason=why, target_type="user", target_id=target.sub)


def send_reset_link(actor: User, target: User, *, reason: str, minutes: int) -> None:
    """Email the person a link to choose a new password; the agent never sees it. Nothing
    changes until the person uses it."""
    why = _begin(actor, target, reason)
    if target.status not in (UserStatus.ACTIVE, UserStatus.INVITED) or not target.email:
        raise InvalidInput(N_("Only an active account can be sent a password reset link."))
    if audit.happened_to_since(
        "user.password_reset_requested",
        target.sub,
        clock.now() - passwords.RESET_EMAIL_INTERVAL,
    ):
        raise InvalidInput(N_("A link was sent less than a minute ago: wait a minute."))
    passwords.request_reset(target, minutes=minutes, locale=target.locale)
    staff.record(actor, "reset_link_sent", reason=why, target_type="user", target_id=target.sub)


def clear_backoff(actor: User, target: User, *, reason: str) -> None:
    """The person's next password is not held back by earlier wrong ones (see the module's
    docstring); the back-off starts again from nothing."""
    why = _begin(actor, target, reason)
    staff.record(
        actor,
        BACKOFF_CLEARED.removeprefix("staff."),
        reason=why,
        target_type="user",
        target_id=target.sub,
    )


def end_sessions(actor: User, target: User, *, reason: str) -> int:
    """Sign the person out everywhere: every session ends, every token is revoked, and the
    services are told (back-channel logout, once the transaction commits). How many ended."""
    why = _begin(actor, target, reason)
    ended = passwords.sign_out_everywhere(target)
    staff.record(
        actor, "sessions_ended", reason=why, target_type="user", target_id=target.sub, ended=ended
    )
    return ended


def remove_factor(
    actor: User,
    target: User,
    factor: str,
    *,
    reason: str,
    identity_check: str,
    passkey_id: int | None = None,
) -> None:
    """Remove the authenticator app (and its recovery codes), one passkey, or the recovery
    codes, once the agent says how they checked who is calling; the person is emailed."""
    why = _begin(actor, target, reason)
    if identity_check not in IDENTITY_CHECKS:
        raise InvalidInput(
            N_("Say how you checked that the caller is this person."), field="identity_check"
        )
    name = verification.name_for(target, target.email) if target.email else None
    brand = verification.brand_for(target)
    details: dict[str, Any] = {"factor": factor, "identity_check": identity_check}
    if factor == "totp":
        if not target.has_totp:
            raise InvalidInput(N_("This person has no authenticator app set up."))
        totp.disable(target)
        mail = Mail(
            "factor_removed", target.email or "", {"name": name, "factor": factor, "brand": brand}
        )
    elif factor == "recovery_codes":
        if not totp.remaining_recovery_codes(target):
            raise InvalidInput(N_("This person has no recovery codes left."))
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == target.id))
        mail = Mail(
            "factor_removed", target.email or "", {"name": name, "factor": factor, "brand": brand}
        )
    elif factor == "passkey" and passkey_id is not None:
        removed = passkeys.remove(target, passkey_id)
        details["passkey"] = removed.name
        mail = Mail(
            "passkey_changed",
            target.email or "",
            {"name": name, "passkey": removed.name, "added": False, "brand": brand},
        )
    else:
        raise InvalidInput(N_("Choose what to remove."), field="factor")
    staff.record(
        actor, "factor_removed", reason=why, target_type="user", target_id=target.sub, **details
    )
    if target.email:
        mailing.send(mail)


def suspend_account(actor: User, target: User, *, reason: str) -> int:
    """Suspend the whole account: no sign-in anywhere, every session ended and token revoked
    (the services told), until restored. How many sessions ended."""
    why = _begin(actor, target, reason)
    if target.status == UserStatus.SUSPENDED:
        raise InvalidInput(N_("This person is already suspended."))
    before = target.status
    target.status = UserStatus.SUSPENDED
    ended = passwords.sign_out_everywhere(target)
    staff.record(
        actor,
        "account_suspended",
        reason=why,
        target_type="user",
        target_id=target.sub,
        before=before,
    )
    return ended


def restore_account(actor: User, target: User, *, reason: str) -> None:
    """Lift an account's suspension: active again if it was activated, else back to waiting
    for its emailed code (as a centre's restore does)."""
    why = _begin(actor, target, reason)
    if target.status != UserStatus.SUSPENDED:
        raise InvalidInput(N_("This person is not suspended."))
    target.status = _status_after_suspension(target)
    staff.record(
        actor,
        "account_restored",
        reason=why,
        target_type="user",
        target_id=target.sub,
        after=target.status,
    )
