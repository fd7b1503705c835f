"""Passkeys (WebAuthn, via py_webauthn): registering one, signing in with one, naming and
removing them.

The relying party is the issuer: its host is the RP id and its origin the only origin
accepted. Every ceremony's challenge is made here, kept in ``passkey_challenges`` and bound to
the browser that asked for it by a random handle (its SHA-256 is stored; the browser keeps the
handle in its session). A challenge is spent once (compare-and-set on ``used_at``), by the
ceremony it was made for, before it expires by the injected clock. User verification (a PIN,
a fingerprint, a face) is required, so a passkey alone is two factors: something the person
has (the authenticator holding the private key) and something they know or are.

No HTTP, no templates, no translations here: the web layer turns the typed refusals into words
and sends the emails.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp import clock
from idp.domain import audit
from idp.errors import DomainError
from idp.extensions import db
from idp.models import (
    Membership,
    Passkey,
    PasskeyChallenge,
    User,
    UserStatus,
    membership_roles,
)

REGISTER = "register"
SIGN_IN = "sign_in"
SECOND_STEP = "second_step"
NAME_MAX = 64
# What the browser may take over a ceremony (WebAuthn's own timeout, in milliseconds).
CEREMONY_TIMEOUT_MS = 120_000


class PasskeyRefused(DomainError):
    """The browser's answer did not prove a passkey of this account (wrong origin or RP id,
    an unknown or foreign credential, no user verification, a challenge spent or expired)."""


class ChallengeSpent(PasskeyRefused):
    """The ceremony's challenge was not made for this browser and purpose, or was spent or
    has expired."""


class PasskeyCloned(PasskeyRefused):
    """The authenticator's signature counter went backwards (or stood still): two copies of
    the credential exist, so one of them is a clone."""


class PasskeyNameInvalid(DomainError):
    """A passkey's name must be 1 to 64 characters."""


class PasskeyExists(DomainError):
    """This passkey is already registered."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the issuer's host (RP id) and origin."""

    id: str
    origin: str
    name: str = "My Cambridge"

    @classmethod
    def for_issuer(cls, issuer: str) -> RelyingParty:
        parts = urlsplit(issuer)
        host = parts.hostname or ""
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        port = "" if parts.port in (None, default_port) else f":{parts.port}"
        return cls(id=host, origin=f"{parts.scheme}://{host}{port}")

    @property
    def usable(self) -> bool:
        """A browser accepts a domain name as RP id, never an IP address (WebAuthn §5.1.3)."""
        return bool(self.id) and not self.id.replace(".", "").isdigit() and ":" not in self.id


@dataclass(frozen=True)
class Where:
    """Where a passkey is being used from: the browser's address and user-agent string."""

    ip: str | None
    user_agent: str | None


def _hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def _new_challenge(challenge: bytes, purpose: str, user: User | None, ttl_seconds: int) -> str:
    """Store a ceremony's challenge; the handle the browser must present to spend it."""
    handle = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(
        PasskeyChallenge(
            handle_hash=_hash(handle),
            challenge=bytes_to_base64url(challenge),
            purpose=purpose,
            user_id=user.id if user else None,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    db.session.flush()
    return handle


def _spend(handle: str | None, purpose: str, user: User | None) -> bytes:
    """The challenge behind ``handle``, spent now: made for ``purpose`` (and ``user``), not
    spent before, not expired. Raises ChallengeSpent otherwise."""
    if not handle:
        raise ChallengeSpent()
    table = PasskeyChallenge.__table__
    now = clock.now()
    conditions = [
        table.c.handle_hash == _hash(handle),
        table.c.purpose == purpose,
        table.c.used_at.is_(None),
        table.c.expires_at > now,
    ]
    conditions.append(table.c.user_id == user.id if user is not None else table.c.user_id.is_(None))
    row = db.session.execute(
        update(table).where(*conditions).values(used_at=now).returning(table.c.challenge)
    ).first()
    if row is None:
        raise ChallengeSpent()
    return base64url_to_bytes(row.challenge)


def spend(handle: str | None) -> None:
    """Spend a challenge whatever became of its ceremony (a refused answer is not retried)."""
    if handle:
        table = PasskeyChallenge.__table__
        db.session.execute(
            update(table)
            .where(table.c.handle_hash == _hash(handle), table.c.used_at.is_(None))
            .values(used_at=clock.now())
        )


# -- what a person has ---------------------------------------------------------------------


def of(user: User) -> list[Passkey]:
    """The person's passkeys, oldest first."""
    return list(
        db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id))
    )


def has_any(user: User) -> bool:
    found = db.session.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
    )
    return bool(found)


def find(user: User, passkey_id: int) -> Passkey | None:
    """One of the person's passkeys (never someone else's)."""
    return db.session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )


def clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned or len(cleaned) > NAME_MAX:
        raise PasskeyNameInvalid()
    return cleaned


def _transports(names: list[str]) -> list[AuthenticatorTransport]:
    known = {t.value: t for t in AuthenticatorTransport}
    return [known[n] for n in names if n in known]


# -- the policy: roles that need a phishing-resistant factor ----------------------------------


class PasskeyRequired(DomainError):
    """The person's roles need a passkey: their last one cannot be removed."""


def policy_roles(setting: str) -> frozenset[str]:
    """The role keys of ``auth.phishing_resistant_roles`` (separated by spaces or commas)."""
    return frozenset(setting.replace(",", " ").split())


def required_for(user: User, roles: frozenset[str]) -> bool:
    """Whether the person needs a passkey: the exam board's staff always (the console reaches
    every centre), anyone else when they hold, in a membership not suspended, one of ``roles``."""
    if user.is_staff:
        return True
    if not roles:
        return False
    memberships = Membership.__table__
    found = db.session.scalar(
        select(memberships.c.id)
        .join(membership_roles, membership_roles.c.membership_id == memberships.c.id)
        .where(
            memberships.c.user_id == user.id,
            memberships.c.suspended_at.is_(None),
            membership_roles.c.role_key.in_(sorted(roles)),
        )
        .limit(1)
    )
    return found is not None


# -- registering ---------------------------------------------------------------------------


def registration_options(user: User, rp: RelyingParty, ttl_seconds: int) -> tuple[str, str]:
    """Start adding a passkey to ``user``'s account: (the challenge's handle, the options as
    JSON for ``navigator.credentials.create``). A discoverable credential (so it can sign in
    without an address typed), user verification required, no attestation asked (we trust
    no vendor list; what matters is the key)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # The user handle is the opaque subject identifier: no address or name in it.
        user_id=user.sub.encode(),
        user_name=user.email or user.sub,
        user_display_name=user.name or user.email or user.sub,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(p.credential_id), transports=_transports(p.transports)
            )
            for p in of(user)
        ],
    )
    handle = _new_challenge(options.challenge, REGISTER, user, ttl_seconds)
    return handle, options_to_json(options)


def register(
    user: User, handle: str | None, response: str, name: str, rp: RelyingParty, where: Where
) -> Passkey:
    """Finish adding a passkey: check the browser's answer against the challenge made for this
    browser and account, and keep the credential's public key."""
    cleaned = clean_name(name)
    challenge = _spend(handle, REGISTER, user)
    try:
        credential = parse_registration_credential_json(response)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused() from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = db.session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id))
    if taken is not None:
        raise PasskeyExists()
    now = clock.now()
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in (credential.response.transports or [])],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=bool(verified.credential_backed_up),
        aaguid=str(verified.aaguid or ""),
        name=cleaned,
        created_at=now,
        created_ip=where.ip,
        created_user_agent=(where.user_agent or "")[:300] or None,
    )
    db.session.add(passkey)
    db.session.flush()
    audit.record(
        "user.passkey_added",
        actor=user,
        target_type="user",
        target_id=user.sub,
        passkey=passkey.id,
        name=cleaned,
        synced=passkey.backup_eligible,
    )
    return passkey


def rename(user: User, passkey_id: int, name: str) -> Passkey:
    passkey = find(user, passkey_id)
    if passkey is None:
        raise PasskeyRefused()
    before, passkey.name = passkey.name, clean_name(name)
    audit.record(
        "user.passkey_renamed",
        actor=user,
        target_type="user",
        target_id=user.sub,
        passkey=passkey.id,
        before=before,
        after=passkey.name,
    )
    return passkey


def remove(user: User, passkey_id: int, *, required: bool = False) -> Passkey:
    """Remove one of the person's passkeys; the removed one (for the email). ``required``: the
    person's roles need a passkey (``required_for``), so their last one stays."""
    passkey = find(user, passkey_id)
    if passkey is None:
        raise PasskeyRefused()
    if required and len(of(user)) <= 1:
        raise PasskeyRequired()
    db.session.delete(passkey)
    db.session.flush()
    audit.record(
        "user.passkey_removed",
        actor=user,
        target_type="user",
        target_id=user.sub,
        passkey=passkey_id,
        name=passkey.name,
    )
    return passkey


# -- signing in ----------------------------------------------------------------------------


def authentication_options(
    rp: RelyingParty, ttl_seconds: int, user: User | None = None
) -> tuple[str, str]:
    """Start a sign-in with a passkey: (the challenge's handle, the options as JSON for
    ``navigator.credentials.get``). Without ``user``, any passkey of ours the authenticator
    holds may answer (discoverable credentials: no address typed); with ``user`` (the step
    after a password), only that person's."""
    allowed = (
        [
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(p.credential_id), transports=_transports(p.transports)
            )
            for p in of(user)
        ]
        if user is not None
        else []
    )
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    handle = _new_challenge(
        options.challenge, SECOND_STEP if user is not None else SIGN_IN, user, ttl_seconds
    )
    return handle, options_to_json(options)


@dataclass(frozen=True)
class Proof:
    """A passkey proved: whose, which, and the RFC 8176 ``amr`` values it stands for."""

    user: User
    passkey: Passkey

    @property
    def amr(self) -> list[str]:
        return amr_for(self.passkey)


def amr_for(passkey: Passkey) -> list[str]:
    """RFC 8176 values for a passkey with user verification: ``hwk`` (proof of possession of a
    key held in hardware) for a device-bound passkey, ``swk`` for a synced one (its key is
    copied between devices by the platform), ``user`` (the authenticator tested that a person
    was there) and ``mfa`` (the possession of the key and the PIN or biometric that unlocked
    it: two factors)."""
    return ["swk" if passkey.backup_eligible else "hwk", "user", "mfa"]


def credential_of(response: str) -> str:
    """The credential id a browser's answer names (base64url), or "" if it names none."""
    try:
        raw = json.loads(response)
    except ValueError:
        return ""
    found = raw.get("id") if isinstance(raw, dict) else None
    return found if isinstance(found, str) else ""


def authenticate(
    handle: str | None,
    response: str,
    rp: RelyingParty,
    where: Where,
    user: User | None = None,
) -> Proof:
    """Check a browser's answer to a sign-in challenge (``user``: the step after a password,
    which only that person's passkeys may answer). The passkey's counter and last use are
    updated. Raises PasskeyRefused (ChallengeSpent, PasskeyCloned) otherwise."""
    challenge = _spend(handle, SECOND_STEP if user is not None else SIGN_IN, user)
    try:
        credential = parse_authentication_credential_json(response)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused() from exc
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.credential_id == bytes_to_base64url(credential.raw_id))
    )
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyRefused()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            # The counter is compared below, so that a clone is told from other failures.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused() from exc
    owner = db.session.get(User, passkey.user_id)
    if owner is None or owner.status != UserStatus.ACTIVE:
        raise PasskeyRefused()
    stored, received = passkey.sign_count, verified.new_sign_count
    if (stored or received) and received <= stored:
        raise PasskeyCloned()
    now = clock.now()
    passkey.sign_count = received
    passkey.backed_up = bool(verified.credential_backed_up)
    passkey.last_used_at = now
    passkey.last_used_ip = where.ip
    passkey.last_used_user_agent = (where.user_agent or "")[:300] or None
    return Proof(owner, passkey)


def refused(handle: str | None, response: str, error: PasskeyRefused, ip: str | None) -> None:
    """Record a refused passkey sign-in (in a transaction of its own: the refusal stands) and
    spend its challenge. The event names the account when the credential is one of ours."""
    spend(handle)
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.credential_id == credential_of(response))
    )
    owner = db.session.get(User, passkey.user_id) if passkey is not None else None
    details: dict[str, Any] = {"reason": type(error).__name__}
    if passkey is not None:
        details["passkey"] = passkey.id
    audit.record(
        "sign_in.passkey_refused",
        actor=owner,
        actor_label="" if owner else "unknown",
        ip=ip,
        **details,
    )
