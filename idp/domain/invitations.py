"""Invitations: an account created for someone else gets a temporary password by email.

The temporary password opens one door only: the *Set password* page of the sign-in steps.
Resending replaces it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from idp import clock
from idp.domain import audit, mailing
from idp.domain.mailing import Mail
from idp.errors import N_, Conflict
from idp.models import Organisation, User, UserStatus
from idp.security import passwords as hasher
from idp.security import readable_secret

TEMPORARY_PASSWORD_LENGTH = 14


def invite(
    user: User,
    *,
    ttl_seconds: int,
    organisation: Organisation | None = None,
    invited_by: User | None = None,
    roles: list[str] | None = None,
    as_exams_officer: bool = False,
) -> None:
    """Give an invited account a new temporary password and email it (replacing any earlier);
    ``as_exams_officer``: the exam board named them the centre's exams officer, and the email
    says so (there is no other officer to ask for a new one)."""
    if user.status != UserStatus.INVITED:
        raise Conflict(N_("This account is already active: it does not need an invitation."))
    if not user.email:
        raise Conflict(N_("This account has no email address to send an invitation to."))
    temporary = readable_secret(TEMPORARY_PASSWORD_LENGTH)
    now = clock.now()
    user.password_hash = hasher().hash(temporary)
    user.must_change_password = True
    user.temp_password_expires_at = now + timedelta(seconds=ttl_seconds)
    details: dict[str, Any] = {"roles": roles} if roles is not None else {}
    audit.record(
        "user.invited",
        actor=invited_by,
        target_type="user",
        target_id=user.sub,
        organisation_id=organisation.id if organisation else None,
        **details,
    )
    mailing.send(
        Mail(
            "invitation",
            user.email,
            {
                "name": user.name,
                "temporary_password": temporary,
                "expires_at": user.temp_password_expires_at,
                "organisation": organisation.name if organisation else None,
                "brand": organisation.brand if organisation else None,
                "exams_officer": as_exams_officer,
            },
            locale=user.locale,  # someone else sends it: in the person's language, if known
        )
    )
