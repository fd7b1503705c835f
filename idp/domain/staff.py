"""The exam board's own staff: who may use the console, and the record of what they did there.

Two roles (``StaffRole``), granted with ``idp staff grant``: *support* finds and helps people
and centres; *operator* does the same and also runs the service (client applications, keys).
Both sign in to the console with a passkey (``phishing_resistant``): a password and an emailed
code can be phished, and the console reaches every centre.

Every console action is recorded (``record``) with who did it, what, to whom and why: the
reason is required for anything that changes a person's account (``clean_reason``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.domain import audit
from idp.errors import N_, InvalidInput
from idp.extensions import db
from idp.models import StaffRole, User

ROLES = tuple(StaffRole)
REASON_MAX = 500
# The amr values of a phishing-resistant sign-in: a passkey (device-bound or synced), which
# answers only the site it was made for.
PHISHING_RESISTANT_AMR = frozenset({"hwk", "swk"})


class ReasonRequired(InvalidInput):
    """An action that changes someone's account was asked for without saying why."""

    default = N_("Say why: the reason is kept with the record of what you did.")

    def __init__(self) -> None:
        super().__init__(field="reason")


def role_of(value: str) -> StaffRole | None:
    """The role named ``value`` ("support", "operator"), None for "none"; else refused."""
    if value == "none":
        return None
    try:
        return StaffRole(value)
    except ValueError:
        raise InvalidInput(
            N_("Unknown staff role %(role)s (known: support, operator, none)."), role=repr(value)
        ) from None


def grant(user: User, role: StaffRole | None, *, actor_label: str = "") -> bool:
    """Give ``user`` a staff role, or take it away (``None``); whether anything changed. The
    grant is audited, and the person's sign-in sessions end when a role is taken away, so a
    console page open in a browser does not outlive the role."""
    before = user.staff_role
    if before == role:
        return False
    user.staff_role = role
    audit.record(
        "staff.role_set",
        actor_label=actor_label,
        target_type="user",
        target_id=user.sub,
        role=role.value if role else None,
        previous=before,
    )
    if before and role is None:
        from idp.domain import sessions

        sessions.end_all(user)
    return True


def members() -> list[User]:
    """Everyone who holds a staff role, by family name (``ix_users_staff_role``: a handful of
    rows among millions)."""
    return list(
        db.session.scalars(
            select(User).where(User.staff_role.is_not(None)).order_by(User.family_name)
        )
    )


def phishing_resistant(amr: list[str] | None) -> bool:
    """The sign-in used a passkey."""
    return bool(PHISHING_RESISTANT_AMR & set(amr or ()))


def clean_reason(reason: str | None, *, required: bool = True) -> str:
    """The reason as it is kept: spaces tidied; refused when it is required and empty, or
    longer than ``REASON_MAX``."""
    cleaned = " ".join((reason or "").split())
    if required and not cleaned:
        raise ReasonRequired()
    if len(cleaned) > REASON_MAX:
        raise InvalidInput(
            N_("Keep the reason under %(limit)s characters."), field="reason", limit=REASON_MAX
        )
    return cleaned


def record(
    actor: User,
    action: str,
    *,
    reason: str = "",
    target_type: str = "",
    target_id: str | int = "",
    organisation_id: int | None = None,
    **details: Any,
) -> None:
    """Record a console action: ``staff.<action>`` by ``actor``, with the reason given and
    the staff role the actor held at the time."""
    audit.record(
        f"staff.{action}",
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        organisation_id=organisation_id,
        reason=reason,
        staff_role=actor.staff_role,
        **details,
    )
