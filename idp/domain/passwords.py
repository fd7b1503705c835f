"""Password policy (NIST SP 800-63B-4), password changes and reset links."""

from __future__ import annotations

import hashlib
import hmac
import logging
import unicodedata
import urllib.request
from datetime import timedelta
from functools import cache

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from idp import clock
from idp.config import AuthSettings
from idp.domain import audit, mailing, sessions, tokens, verification
from idp.domain.mailing import Mail
from idp.errors import N_, InvalidInput, LinkInvalid
from idp.extensions import db
from idp.models import AddressChange, Organisation, User, UserOrigin, UserStatus
from idp.security import passwords as hasher
from idp.security import serializer

log = logging.getLogger(__name__)
MAX_PASSWORD_LENGTH = 256
RESET_PURPOSE = "password-reset"
RESET_EMAIL_INTERVAL = timedelta(seconds=60)


@cache
def _breached() -> frozenset[str]:
    """The 30,000 most common passwords of public breaches, as zxcvbn ships them."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(
    password: str, min_length: int, *, email: str | None = None, names: tuple[str, ...] = ()
) -> None:
    """Raise InvalidInput naming what is wrong with a new password.

    Length is counted in Unicode characters after NFKC normalisation; there are no
    composition rules (NIST SP 800-63B-4 §3.1.1.2)."""
    normalised = unicodedata.normalize("NFKC", password)
    if not normalised.strip():
        raise InvalidInput(N_("Enter a password."))
    if len(normalised) < min_length:
        raise InvalidInput(N_("Password must be at least %(num)d characters long."), num=min_length)
    if len(normalised) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("Password must be at most %(num)d characters long."), num=MAX_PASSWORD_LENGTH
        )
    folded = normalised.casefold()
    if folded in _breached() or folded.replace(" ", "") in _breached():
        raise InvalidInput(
            N_(
                "This password is one of the most common passwords and is easy to guess."
                " Choose a different one: a few unrelated words work well."
            )
        )
    if email:
        local = email.casefold().partition("@")[0]
        if email.casefold() in folded or (len(local) >= 4 and local in folded):
            raise InvalidInput(N_("Password must not contain your email address."))
    for name in names:
        if len(name) >= 3 and name.casefold() in folded:
            raise InvalidInput(N_("Password must not contain your name."))


def check_pwned(password: str, range_url: str, timeout: float = 3.0) -> None:
    """Refuse a password found in Have I Been Pwned's Pwned Passwords, by k-anonymity: only the
    first five hex digits of its SHA-1 leave this server. Off unless ``range_url`` is set
    (``https://api.pwnedpasswords.com/range/``); if the service cannot be reached in
    ``timeout`` seconds the check is skipped and logged, never blocking a password change."""
    if not range_url:
        return
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    request = urllib.request.Request(
        range_url + prefix, headers={"Add-Padding": "true", "User-Agent": "my-cambridge-idp"}
    )
    try:
        # The configuration admits only an https URL (http on loopback) here.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            body = response.read(2_000_000).decode("ascii", "replace")
    except (OSError, ValueError) as exc:
        log.warning("pwned passwords: check skipped: %s", exc)
        return
    for line in body.splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate == suffix and count.strip() not in ("", "0"):
            raise InvalidInput(
                N_(
                    "This password has appeared in a data breach, so others may know it."
                    " Choose a different one."
                )
            )


STRENGTH_LABELS = (N_("Very weak"), N_("Weak"), N_("Fair"), N_("Good"), N_("Strong"))


def strength(password: str, hints: tuple[str, ...] = ()) -> dict[str, object]:
    """zxcvbn's estimate, for the strength meter NIST SP 800-63B-4 recommends: a score from 0
    to 4, a label and advice. Advice only: the policy above decides what is accepted."""
    if not password:
        return {"score": 0, "label": "", "warning": "", "suggestions": []}
    result = zxcvbn(password[:72], user_inputs=[h for h in hints if h])
    score = int(result["score"])
    feedback = result["feedback"]
    return {
        "score": score,
        "label": STRENGTH_LABELS[score],  # a message id: the page translates it
        "warning": feedback.get("warning") or "",
        "suggestions": list(feedback.get("suggestions") or []),
    }


def min_length_for(user: User, auth: AuthSettings) -> int:
    """Shorter passwords are allowed once an authenticator app backs them up."""
    return auth.password_min_length_with_totp if user.has_totp else auth.password_min_length


def check_for(
    user: User, password: str, auth: AuthSettings, names: tuple[str, str] | None = None
) -> None:
    """The whole policy for a user's new password, or InvalidInput saying what is wrong;
    ``names`` when the user is giving a new name with it."""
    check_policy(
        password,
        min_length_for(user, auth),
        email=user.email,
        names=names or (user.given_name, user.family_name),
    )
    check_pwned(password, auth.pwned_passwords_url)


def set_password(user: User, password: str, *, notify: bool = True) -> None:
    """Store a new password (policy already checked). Ends temporary passwords and reset links."""
    now = clock.now()
    user.password_hash = hasher().hash(password[:MAX_PASSWORD_LENGTH])
    user.password_changed_at = now
    user.must_change_password = False
    user.temp_password_expires_at = None
    audit.record("user.password_changed", actor=user, target_type="user", target_id=user.sub)
    if notify and user.email:
        mailing.send(
            Mail(
                "password_changed",
                user.email,
                {
                    "name": verification.name_for(user, user.email),
                    "brand": verification.brand_for(user),
                },
            )
        )


def sign_out_everywhere(user: User, *, keep_sid: str | None = None) -> int:
    """End the user's sessions (but ``keep_sid``) and revoke every token they hold."""
    ended = sessions.end_all(user, keep_sid=keep_sid)
    tokens.revoke_for_user(user.id)
    return ended


# -- reset links ----------------------------------------------------------------------------


def fingerprint(user: User) -> str:
    """Changes whenever the password does: a reset link, or a sign-in part-way through its
    steps, made before a password change stops working after it."""
    return _short_digest(user.password_hash)


def _short_digest(text: str | None) -> str:
    return hashlib.sha256((text or "-").encode()).hexdigest()[:16]


def reset_token(user: User) -> str:
    """The link's token: the account, its password (the link dies when the password changes)
    and the address it is sent to (it dies when the main address changes: using it proves
    that address, and only that one)."""
    return serializer(RESET_PURPOSE).dumps(
        {"u": user.sub, "p": fingerprint(user), "a": _short_digest(user.email)}
    )


def user_for_reset_token(token: str, max_age: int) -> User:
    """The account a reset link was made for, or LinkInvalid (expired, used, tampered, or its
    account suspended or given another main address since)."""
    try:
        data = serializer(RESET_PURPOSE).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        raise LinkInvalid() from None
    if not isinstance(data, dict):
        raise LinkInvalid()
    user = db.session.scalar(db.select(User).where(User.sub == str(data.get("u"))))
    if user is None or user.is_suspended:
        raise LinkInvalid()
    made_for = f"{data.get('p')}:{data.get('a')}"
    if not hmac.compare_digest(made_for, f"{fingerprint(user)}:{_short_digest(user.email)}"):
        raise LinkInvalid()
    return user


def unverified_sign_up(user: User) -> bool:
    """A self sign-up whose address never got its code: name and password are whatever whoever
    signed up typed, perhaps someone squatting another person's address."""
    return user.status == UserStatus.INVITED and user.origin == UserOrigin.SELF


def reset_activates(user: User) -> bool:
    """An account not active yet (an invitation not taken up, or a self sign-up whose address
    never got its code): the reset link went to its address, so whoever uses it reads that
    mailbox, as a code or the invitation's temporary password would prove, and the account
    becomes active with their password (see README, Forgotten password)."""
    return user.status == UserStatus.INVITED


def _address_change_waits(user: User) -> bool:
    return (
        db.session.scalar(
            select(AddressChange.id).where(
                AddressChange.user_id == user.id, AddressChange.expires_at > clock.now()
            )
        )
        is not None
    )


def request_reset(
    user: User | None,
    *,
    minutes: int,
    asked_by: User | None = None,
    organisation: Organisation | None = None,
    locale: str | None = None,
) -> None:
    """Email a reset link to an account that is active or not active yet (see
    ``reset_activates``); for an unknown or suspended account do nothing, so the caller's
    answer is the same either way. ``asked_by`` is the officer of ``organisation`` who asked
    for it, named in the email, which is then in the person's own language (``locale``)."""
    if user is None or not user.email:
        return
    if user.status not in (UserStatus.ACTIVE, UserStatus.INVITED):
        return
    if user.status == UserStatus.INVITED and _address_change_waits(user):
        # Its address was never proved and is being corrected: the link would activate the
        # account for whoever reads the old, perhaps mistyped, address.
        return
    # One link a minute per account, however many addresses ask: no flooding an inbox.
    if audit.happened_to_since(
        "user.password_reset_requested", user.sub, clock.now() - RESET_EMAIL_INTERVAL
    ):
        return
    token = reset_token(user)
    mailing.send(
        Mail(
            "password_reset",
            user.email,
            {
                "name": verification.name_for(user, user.email),
                "token": token,
                "minutes": minutes,
                "asked_by": asked_by.name if asked_by else None,
                "centre": organisation.code if organisation else None,
                "exams_officer": (
                    organisation is not None
                    and asked_by is not None
                    and organisation.exams_officer_id == asked_by.id
                ),
                "brand": organisation.brand if organisation else verification.brand_for(user),
            },
            locale=locale,
        )
    )
    audit.record("user.password_reset_requested", target_type="user", target_id=user.sub)
