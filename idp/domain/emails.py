"""A user's email addresses: add (proved by a code), make primary (confirmed from the old
primary), remove. Every address signs in once verified; the primary one receives our mail.

An address already used by another account is never revealed: adding it looks the same to
the person adding it, but its owner gets a notice instead of a code, and no code will work.
"""

from __future__ import annotations

from idp import clock
from idp.domain import audit, mailing, users, verification
from idp.domain.mailing import Mail
from idp.domain.verification import CodePolicy
from idp.errors import N_, Conflict, InvalidInput, NotFound
from idp.extensions import db
from idp.models import EmailAddress, User

MAX_ADDRESSES = 5


def _own(user: User, address: str) -> EmailAddress:
    found = next((e for e in user.emails if e.address == address), None)
    if found is None:
        raise NotFound(N_("That email address is not on your account."))
    return found


def start_adding(user: User, address: str, policy: CodePolicy) -> str:
    """Send a code to a new address (or, if another account uses it, a notice to its owner,
    at most once a resend interval); return the normalised address to remember while the
    user fetches the code. Raises TooSoon within the interval, taken address or not."""
    address = users.normalise_email(address)
    if any(e.address == address for e in user.emails):
        raise Conflict(N_("That email address is already on your account."))
    if len(user.emails) >= MAX_ADDRESSES:
        raise InvalidInput(
            N_("An account can have at most %(num)d email addresses."), num=MAX_ADDRESSES
        )
    owner = users.owner_of(address)
    taken = owner is not None
    owner_told = verification.issued_lately("add_email", address, policy)  # asked for both
    # A taken address goes through the very bookkeeping of a free one: a code (never sent,
    # so nobody knows it) that retires the last and holds the next off for the same minute,
    # so no answer, resend or wrong code tells the two apart (raises TooSoon alike).
    verification.issue(user, "add_email", address, policy, send=not taken)
    if taken:
        # Its owner hears of it at most once an interval, however many ask, or how often.
        if not owner_told:
            assert owner is not None
            mailing.send(Mail("address_in_use", address, locale=owner.locale))
        audit.record("user.email_add_refused", actor=user, target_type="user", target_id=user.sub)
    return address


def finish_adding(user: User, address: str, code: str, policy: CodePolicy) -> EmailAddress:
    """Check the code sent to ``address`` and add it, verified."""
    sent_to = verification.check(user, "add_email", code, policy)
    if sent_to != address or users.email_in_use(address):
        raise InvalidInput(N_("That code was sent to a different address. Add the address again."))
    now = clock.now()
    email = EmailAddress(address=address, is_primary=False, verified_at=now, created_at=now)
    user.emails.append(email)
    db.session.flush()
    audit.record("user.email_added", actor=user, target_type="user", target_id=user.sub)
    return email


def start_making_primary(user: User, address: str, policy: CodePolicy) -> None:
    """A code goes to the current primary address: the person who reads that mailbox agrees."""
    email = _own(user, address)
    if email.is_primary:
        raise Conflict(N_("That is already your main email address."))
    if not email.verified:
        raise InvalidInput(N_("Verify that email address before making it your main one."))
    current = user.primary_email
    assert current is not None
    verification.issue(user, "change_primary", current.address, policy)


def finish_making_primary(user: User, address: str, code: str, policy: CodePolicy) -> None:
    verification.check(user, "change_primary", code, policy)
    email = _own(user, address)
    old = user.primary_email
    assert old is not None
    # Two statements, so the partial unique index never sees two primaries.
    old.is_primary = False
    db.session.flush()
    email.is_primary = True
    user.updated_at = clock.now()
    db.session.flush()
    audit.record("user.primary_email_changed", actor=user, target_type="user", target_id=user.sub)
    for to in (old.address, email.address):
        mailing.send(
            Mail(
                "primary_email_changed",
                to,
                {"name": user.name, "old": old.address, "new": email.address},
            )
        )


def remove(user: User, address: str) -> None:
    email = _own(user, address)
    if email.is_primary:
        raise Conflict(
            N_("You cannot remove your main email address. Make another one main first.")
        )
    user.emails.remove(email)
    db.session.flush()
    audit.record("user.email_removed", actor=user, target_type="user", target_id=user.sub)
