"""Accounts: creation, lookup by email, sign-in with a password."""

from __future__ import annotations

from collections.abc import Callable

from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from sqlalchemy import func, select

from idp import clock
from idp.domain import audit, passwords, throttling
from idp.errors import (
    N_,
    AccountThrottled,
    Conflict,
    InvalidCredentials,
    InvalidInput,
    TemporaryPasswordExpired,
)
from idp.extensions import db
from idp.models import EmailAddress, User, UserOrigin, UserStatus
from idp.security import new_subject
from idp.security import passwords as hasher

NAME_MAX = 100


def _validated(value: str) -> ValidatedEmail:
    """email-validator's reading of an address, or EmailNotValidError. One plain mailbox
    only: no display name (``Tom <tom@example.org>``), list, quoted local part or bracketed IP
    address, and at most 64 characters before the @-sign (``strict``). Syntax only, never DNS.
    Every option is given, so the library's changeable defaults cannot loosen it;
    ``test_environment`` lets ``*.test`` in, as ``example.org`` is."""
    return validate_email(
        (value or "").strip().lower(),
        check_deliverability=False,
        allow_display_name=False,
        allow_quoted_local=False,
        allow_domain_literal=False,
        allow_empty_local=False,
        allow_smtputf8=True,
        globally_deliverable=True,
        test_environment=True,
        strict=True,
    )


def normalise_email(value: str) -> str:
    """The one form in which an address is stored, or InvalidInput: trimmed, lower-cased,
    validated, with an internationalised domain in its ASCII form when the part before the
    @-sign is ASCII (``ANA@Bücher.example`` and ``ana@xn--bcher-kva.example`` alike
    ``ana@xn--bcher-kva.example``: one account, and mail to it needs no SMTPUTF8 relay).
    Every address that enters passes here."""
    try:
        valid = _validated(value)
    except EmailNotValidError:
        raise InvalidInput(
            N_("Enter an email address in the correct format, like name@example.org.")
        ) from None
    return valid.ascii_email or valid.normalized


def stored_forms(value: str) -> list[str]:
    """Every form in which an account may hold this address: the one stored now, its Unicode
    form, and the trimmed, lower-cased text that releases before email-validator stored
    (which accepted some addresses it refuses). Looking up by all of them keeps every earlier
    account reachable, and an address that is taken taken."""
    plain = (value or "").strip().lower()
    forms = [plain] if 0 < len(plain) <= 254 else []
    try:
        valid = _validated(value)
    except EmailNotValidError:
        return forms
    return list(dict.fromkeys([valid.ascii_email or valid.normalized, valid.normalized, *forms]))


def clean_name(value: str, label: str) -> str:
    """``value`` with its spaces tidied; ``label`` is "first or given name" or "last name or
    surname" (the messages name the field)."""
    name = " ".join((value or "").split())
    given = label == "first or given name"
    if not name:
        raise InvalidInput(
            N_("Enter the first or given name.") if given else N_("Enter the last name or surname.")
        )
    if len(name) > NAME_MAX:
        raise InvalidInput(
            N_("The first or given name must be %(num)d characters or fewer.")
            if given
            else N_("The last name or surname must be %(num)d characters or fewer."),
            num=NAME_MAX,
        )
    return name


def find_by_email(address: str) -> User | None:
    forms = stored_forms(address)
    if not forms:
        return None
    email = db.session.scalar(select(EmailAddress).where(EmailAddress.address.in_(forms)).limit(1))
    return email.user if email else None


def signing_in_with(email: str) -> User | None:
    """The account this address signs in to: the primary address always does; an added
    address only once verified."""
    forms = stored_forms(email)
    if not forms:
        return None
    row = db.session.execute(
        select(User, EmailAddress).join(EmailAddress).where(EmailAddress.address.in_(forms))
    ).first()
    if row is None or not (row.EmailAddress.is_primary or row.EmailAddress.verified):
        return None
    return row.User


def owner_of(address: str) -> User | None:
    """The account holding the (normalised) ``address``, verified or not: one query."""
    return db.session.scalar(select(User).join(EmailAddress).where(EmailAddress.address == address))


def email_in_use(address: str) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(EmailAddress)
            .where(EmailAddress.address.in_(stored_forms(address)))
        )
    )


def create(
    *,
    email: str,
    given_name: str,
    family_name: str,
    password: str | None = None,
    password_min_length: int = 15,
    origin: UserOrigin = UserOrigin.OPERATOR,
    email_verified: bool = False,
    awaiting_verification: bool = False,
) -> User:
    """Create an account. With a password it is active (or, ``awaiting_verification``, active
    once its address is verified by a code); without one it awaits an invitation."""
    address = normalise_email(email)
    given = clean_name(given_name, "first or given name")
    family = clean_name(family_name, "last name or surname")
    if email_in_use(address):
        raise Conflict(N_("An account with this email address already exists."))
    now = clock.now()
    user = User(
        sub=new_subject(),
        given_name=given,
        family_name=family,
        origin=origin,
        status=UserStatus.INVITED,
        created_at=now,
    )
    if password is not None:
        passwords.check_policy(password, password_min_length, email=address, names=(given, family))
        user.password_hash = hasher().hash(password)
        user.password_changed_at = now
        user.status = UserStatus.INVITED if awaiting_verification else UserStatus.ACTIVE
    user.emails.append(
        EmailAddress(address=address, is_primary=True, verified_at=now if email_verified else None)
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target_type="user", target_id=user.sub, origin=str(origin))
    return user


def authenticate(
    email: str,
    password: str,
    backoff: throttling.Backoff | None = None,
    known_device: Callable[[User], str | None] | None = None,
) -> User:
    """The user with this email address and password, or InvalidCredentials.

    The user may be active, or invited and holding a temporary password: the sign-in steps
    then lead only to *Set password*. An unknown address costs the same hash as a wrong
    password, and every failure says the same thing, so the answer never reveals whether an
    account exists. Only someone who knows a temporary password learns that it expired.
    With ``backoff``, an account that had too many wrong passwords in a row refuses even the
    right one until its wait is over (AccountThrottled, which reads as InvalidCredentials);
    ``known_device`` says whether this browser has signed in to an account before, and such a
    browser waits only for the wrong passwords typed in such browsers.
    """
    user = signing_in_with(email)
    stored = user.password_hash if user is not None else None
    ok = hasher().verify(stored, password[: passwords.MAX_PASSWORD_LENGTH])
    # After the hash, and asked for unknown addresses too: every answer costs the same.
    device = known_device(user) if user is not None and known_device is not None else None
    waiting = (
        throttling.wait_remaining(user, backoff, known_device=device)
        if backoff is not None
        else 0.0
    )
    if user is not None and waiting:
        raise AccountThrottled()
    if not ok or user is None or user.status == UserStatus.SUSPENDED:
        raise InvalidCredentials()
    expires = user.temp_password_expires_at
    if user.must_change_password and expires is not None and expires <= clock.now():
        raise TemporaryPasswordExpired()
    if hasher().needs_rehash(stored or ""):
        user.password_hash = hasher().hash(password)
    return user


def activate(user: User, address: str) -> None:
    """An invited (or self-registered) user proved control of ``address``: the account is live."""
    now = clock.now()
    for email in user.emails:
        if email.address == address and email.verified_at is None:
            email.verified_at = now
    if user.status == UserStatus.INVITED:
        user.status = UserStatus.ACTIVE
        audit.record("user.activated", actor=user, target_type="user", target_id=user.sub)


def rename(user: User, given_name: str, family_name: str) -> None:
    """Only the user changes their own name."""
    user.given_name = clean_name(given_name, "first or given name")
    user.family_name = clean_name(family_name, "last name or surname")
    user.updated_at = clock.now()
    audit.record("user.renamed", actor=user, target_type="user", target_id=user.sub)
