"""A change of someone's main email address asked by someone else (an exams officer, in My
Organisation): it counts only once the link sent to the new address is used.

Until then nothing about the account changes: sign-in, Forgotten password and an officer's
reset link all use the old address, so a mistyped (or an officer's own) address gains nothing
unless its reader uses the link, and the old address has been told who asked. Using the link
makes the new address the main one, verified, and removes the old one.

The answer to whoever asks is the same whether or not the new address belongs to another
account, and so is everything they can see afterwards (the change waiting, its cancel button,
the audit log): the bookkeeping is the same, but a taken address's change is made with a token
that is never sent, so it can never be confirmed, and the address's owner gets a notice
instead of the link. Both branches do the same work (one random token, one digest, one row,
two emails).

A person's own changes (Account > Personal info) are proved by a code before they count; see
``idp.domain.emails``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from idp import clock
from idp.domain import audit, invitations, mailing, passwords, users
from idp.domain.mailing import Mail
from idp.errors import N_, Conflict, InvalidInput, LinkInvalid
from idp.extensions import db
from idp.models import AddressChange, Organisation, User, UserStatus
from idp.security import random_token, token_hash

TAKEN = N_(
    "That email address now belongs to another account, so the change cannot be made."
    " Nothing has changed: ask your exams officer to use another address."
)


def pending(user: User) -> AddressChange | None:
    """The change of ``user``'s main address waiting for its link, if any (an expired one is
    not waiting any more)."""
    change = db.session.scalar(select(AddressChange).where(AddressChange.user_id == user.id))
    if change is None or change.expires_at <= clock.now():
        return None
    return change


def never_activated(user: User) -> bool:
    """Invited and never proved an address: nobody has shown they read any of its mail."""
    return user.status == UserStatus.INVITED and not any(e.verified for e in user.emails)


def requested_by(change: AddressChange) -> User | None:
    return db.session.get(User, change.requested_by_id) if change.requested_by_id else None


def request(
    target: User,
    address: str,
    *,
    by: User,
    organisation: Organisation,
    ttl_seconds: int,
) -> str:
    """Ask for ``target``'s main address to become ``address`` (the caller checked that ``by``
    may); return the normalised address. Replaces a change already waiting.

    The old address is told who asked. A free address (or one of the target's own) is sent
    the link; the owner of a taken one is sent a notice instead, and the change stored for
    the target can never be confirmed. An account never activated stops its invitation (or
    the password its reader chose) at once: it went to the old address, which may be the
    mistyped one; a new invitation goes to the new address once the link is used."""
    new = users.normalise_email(address)
    old = target.email
    if old is None or new == old:
        raise InvalidInput(N_("That is already their email address."))
    owner = users.find_by_email(new)
    taken = owner is not None and owner.id != target.id
    token = random_token()
    now = clock.now()
    db.session.execute(delete(AddressChange).where(AddressChange.user_id == target.id))
    change = AddressChange(
        user_id=target.id,
        address=new,
        token_hash=token_hash(token),
        requested_by_id=by.id,
        organisation_id=organisation.id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db.session.add(change)
    if never_activated(target):
        target.password_hash = None
        target.temp_password_expires_at = None
        passwords.sign_out_everywhere(target)
    db.session.flush()
    hours = ttl_seconds // 3600
    # An officer's doing: in the person's own language, when known.
    mailing.send(
        Mail(
            "address_change_requested",
            old,
            {
                "name": target.name,
                "new": new,
                "by": by.name,
                "organisation": organisation.name,
                "hours": hours,
                "brand": organisation.brand,
            },
            locale=target.locale,
        )
    )
    if not taken:
        mailing.send(
            Mail(
                "address_change_link",
                new,
                {
                    "by": by.name,
                    "organisation": organisation.name,
                    "token": token,
                    "hours": hours,
                    "brand": organisation.brand,
                },
                locale=target.locale,
            )
        )
    if taken:
        assert owner is not None
        mailing.send(Mail("address_in_use", new, locale=owner.locale))
    audit.record(
        "management.email_change_requested",
        actor=by,
        target_type="user",
        target_id=target.sub,
        organisation_id=organisation.id,
        after=new,
    )
    return new


def cancel(target: User, *, by: User, organisation: Organisation | None = None) -> None:
    """Drop the change waiting for ``target`` (by an officer of ``organisation``, or the
    person themselves): its link stops working. NotFound-free: InvalidInput when none waits."""
    if pending(target) is None:
        raise InvalidInput(N_("No change of email address is waiting for confirmation."))
    db.session.execute(delete(AddressChange).where(AddressChange.user_id == target.id))
    audit.record(
        "management.email_change_cancelled" if organisation else "user.email_change_cancelled",
        actor=by,
        target_type="user",
        target_id=target.sub,
        organisation_id=organisation.id if organisation else None,
    )


def for_link(token: str) -> AddressChange:
    """The change a link was sent for, or LinkInvalid (expired, used, cancelled, replaced,
    tampered with), or for a suspended account."""
    change = db.session.scalar(
        select(AddressChange).where(AddressChange.token_hash == token_hash(token or "-"))
    )
    if change is None or change.expires_at <= clock.now():
        raise LinkInvalid()
    user = db.session.get(User, change.user_id)
    if user is None or user.is_suspended:
        raise LinkInvalid()
    return change


def confirm(change: AddressChange, *, invitation_ttl: int) -> tuple[User, bool]:
    """Use the link (``change`` as ``for_link`` found it): the new address becomes the main
    one, verified, the old one goes, both are told. Returns the account and whether a new
    invitation was sent (an account never activated gets one at the new address, now proved).

    The link is spent by deleting its row: of two uses at once, both may have found it, but
    only one deletes it and the other gets LinkInvalid. Sessions stay: the password has not
    changed, and whoever uses the link may be signed in elsewhere; anyone who then resets the
    password signs everyone out. Conflict (the link spent all the same) when the address was
    taken meanwhile."""
    user = db.session.get(User, change.user_id)
    assert user is not None
    new, by, organisation_id = change.address, requested_by(change), change.organisation_id
    spent = db.session.execute(delete(AddressChange).where(AddressChange.id == change.id))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid()
    invited = never_activated(user)
    owner = users.find_by_email(new)
    if owner is not None and owner.id != user.id:
        raise Conflict(TAKEN)
    main = user.primary_email
    assert main is not None
    previous = main.address
    own = next((e for e in user.emails if e.address == new), None)
    if own is not None:  # one of their other addresses: it becomes the main one's
        user.emails.remove(own)
        db.session.flush()
    now = clock.now()
    main.address = new
    main.verified_at = now
    user.updated_at = now
    db.session.flush()
    audit.record(
        "management.email_changed",
        actor=by,
        target_type="user",
        target_id=user.sub,
        organisation_id=organisation_id,
        before=previous,
        after=new,
    )
    for to in (previous, new):
        mailing.send(
            Mail(
                "primary_email_changed",
                to,
                {"name": user.name, "old": previous, "new": new},
                locale=user.locale,
            )
        )
    if invited:
        organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
        invitations.invite(
            user, ttl_seconds=invitation_ttl, organisation=organisation, invited_by=by
        )
    return user, invited
