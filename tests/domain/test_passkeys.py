"""Passkeys in the domain: a ceremony's challenge is single-use, bound to its purpose and
account, and expires; the answer must come from our origin and RP id, with user verification;
a clone (a counter going backwards) is refused; nobody reaches another person's passkeys."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp import clock
from idp.domain import passkeys, sessions
from idp.domain.passkeys import (
    ChallengeSpent,
    PasskeyCloned,
    PasskeyExists,
    PasskeyNameInvalid,
    PasskeyRefused,
    RelyingParty,
    Where,
)
from idp.extensions import db
from idp.models import AuditEvent, Passkey
from tests.passkey_authenticator import Authenticator

RP = RelyingParty.for_issuer("http://localhost")
HERE = Where("192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36")
TTL = 300


def registered(user, authenticator: Authenticator, name: str = "My phone") -> Passkey:
    handle, options = passkeys.registration_options(user, RP, TTL)
    passkey = passkeys.register(user, handle, authenticator.create(options), name, RP, HERE)
    db.session.commit()
    return passkey


def sign_in(authenticator: Authenticator, user=None, **answer):
    handle, options = passkeys.authentication_options(RP, TTL, user)
    return passkeys.authenticate(handle, authenticator.get(options, **answer), RP, HERE, user)


def test_the_relying_party_is_the_issuer():
    assert RelyingParty.for_issuer("https://sso.example.org") == RelyingParty(
        "sso.example.org", "https://sso.example.org"
    )
    assert RelyingParty.for_issuer("http://localhost:5000").origin == "http://localhost:5000"
    assert RelyingParty.for_issuer("https://sso.example.org:443").origin == (
        "https://sso.example.org"
    )
    # Browsers refuse an IP address as RP id: such an issuer offers no passkeys.
    assert not RelyingParty.for_issuer("http://127.0.0.1:5000").usable
    assert RelyingParty.for_issuer("http://localhost:5000").usable


def test_register_then_sign_in_with_no_address_typed(app, make):
    clock.freeze()
    user = make.user("pat@example.org")
    phone = Authenticator()
    passkey = registered(user, phone)
    assert passkey.name == "My phone" and passkey.sign_count == 0
    assert passkey.transports == ["internal", "hybrid"]
    assert passkey.backup_eligible is False
    assert passkey.created_ip == "192.0.2.1"
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert "user.passkey_added" in events

    proof = sign_in(phone)
    db.session.commit()
    assert proof.user.id == user.id
    assert proof.amr == ["hwk", "user", "mfa"]
    assert sessions.acr_for(proof.amr) == "2"
    assert passkey.sign_count == 1 and passkey.last_used_at == clock.now()
    assert "Chrome" in (passkey.last_used_user_agent or "")


def test_a_synced_passkey_is_a_software_key(app, make):
    user = make.user()
    laptop = Authenticator(synced=True)
    passkey = registered(user, laptop)
    assert passkey.backup_eligible and passkey.backed_up
    assert sign_in(laptop).amr == ["swk", "user", "mfa"]


def test_a_challenge_is_spent_once(app, make):
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    handle, options = passkeys.authentication_options(RP, TTL)
    answer = phone.get(options)
    passkeys.authenticate(handle, answer, RP, HERE)
    db.session.commit()
    with pytest.raises(ChallengeSpent):
        passkeys.authenticate(handle, answer, RP, HERE)


def test_a_challenge_expires(app, make):
    clock.freeze()
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    handle, options = passkeys.authentication_options(RP, TTL)
    clock.advance(TTL + 1)
    with pytest.raises(ChallengeSpent):
        passkeys.authenticate(handle, phone.get(options), RP, HERE)


def test_a_challenge_serves_only_its_purpose_and_account(app, make):
    alice, mallory = make.user("alice@example.org"), make.user("mallory@example.org")
    handle, options = passkeys.registration_options(alice, RP, TTL)
    # Mallory cannot spend Alice's registration challenge to add a key to his own account...
    with pytest.raises(ChallengeSpent):
        passkeys.register(mallory, handle, Authenticator().create(options), "x", RP, HERE)
    db.session.rollback()
    # ...nor can Alice spend the challenge of the step after her password to register one.
    handle, options = passkeys.authentication_options(RP, TTL, alice)
    _other, made = passkeys.registration_options(alice, RP, TTL)
    crossed = {**json.loads(made), "challenge": json.loads(options)["challenge"]}
    with pytest.raises(ChallengeSpent):
        passkeys.register(alice, handle, Authenticator().create(crossed), "x", RP, HERE)


def test_no_challenge_no_ceremony(app, make):
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    _handle, options = passkeys.authentication_options(RP, TTL)
    with pytest.raises(ChallengeSpent):
        passkeys.authenticate(None, phone.get(options), RP, HERE)
    with pytest.raises(ChallengeSpent):
        passkeys.authenticate("made-up", phone.get(options), RP, HERE)


@pytest.mark.parametrize(
    "answer",
    [
        {"origin": "https://localhost.evil.example"},  # a phishing page relaying the ceremony
        {"rp_id": "evil.example"},  # a credential made for another site
        {"verified": False},  # touched, but no PIN or biometric
    ],
    ids=["other origin", "other RP id", "no user verification"],
)
def test_an_answer_for_another_site_or_without_verification_is_refused(app, make, answer):
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    with pytest.raises(PasskeyRefused):
        sign_in(phone, **answer)


@pytest.mark.parametrize(
    "answer",
    [{"origin": "https://localhost.evil.example"}, {"rp_id": "evil.example"}, {"verified": False}],
    ids=["other origin", "other RP id", "no user verification"],
)
def test_a_registration_for_another_site_or_without_verification_is_refused(app, make, answer):
    user = make.user()
    handle, options = passkeys.registration_options(user, RP, TTL)
    with pytest.raises(PasskeyRefused):
        passkeys.register(user, handle, Authenticator().create(options, **answer), "x", RP, HERE)


def test_a_cloned_authenticator_is_refused(app, make):
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    copy = phone.clone()
    sign_in(phone)
    sign_in(phone)
    db.session.commit()
    # The copy's counter is behind the original's: one of them is a clone.
    with pytest.raises(PasskeyCloned):
        sign_in(copy)
    db.session.rollback()
    copy.counter = 1  # standing still is no better
    with pytest.raises(PasskeyCloned):
        sign_in(copy)


def test_an_unknown_credential_is_refused(app, make):
    make.user()
    stranger = Authenticator()
    stranger.user_handle = "dV9zb21lb25l"
    with pytest.raises(PasskeyRefused):
        sign_in(stranger)


def test_the_step_after_a_password_takes_only_that_persons_passkey(app, make):
    alice, mallory = make.user("alice@example.org"), make.user("mallory@example.org")
    registered(alice, Authenticator())
    mallorys = Authenticator()
    registered(mallory, mallorys)
    with pytest.raises(PasskeyRefused):
        sign_in(mallorys, user=alice)
    db.session.rollback()
    assert sign_in(mallorys, user=mallory).user.id == mallory.id


def test_a_suspended_account_cannot_sign_in_with_its_passkey(app, make):
    user = make.user()
    phone = Authenticator()
    registered(user, phone)
    user.status = "suspended"
    db.session.commit()
    with pytest.raises(PasskeyRefused):
        sign_in(phone)


def test_a_credential_is_registered_once(app, make):
    alice, bob = make.user("alice@example.org"), make.user("bob@example.org")
    shared = Authenticator()
    registered(alice, shared)
    handle, options = passkeys.registration_options(bob, RP, TTL)
    with pytest.raises(PasskeyExists):
        passkeys.register(bob, handle, shared.create(options), "x", RP, HERE)


@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
def test_a_passkey_needs_a_name(app, make, name):
    user = make.user()
    handle, options = passkeys.registration_options(user, RP, TTL)
    with pytest.raises(PasskeyNameInvalid):
        passkeys.register(user, handle, Authenticator().create(options), name, RP, HERE)


def test_rename_and_remove_only_ones_own(app, make):
    alice, mallory = make.user("alice@example.org"), make.user("mallory@example.org")
    passkey = registered(alice, Authenticator())
    with pytest.raises(PasskeyRefused):
        passkeys.rename(mallory, passkey.id, "mine now")
    with pytest.raises(PasskeyRefused):
        passkeys.remove(mallory, passkey.id)
    passkeys.rename(alice, passkey.id, "  Work   laptop ")
    assert passkey.name == "Work laptop"
    passkeys.remove(alice, passkey.id)
    db.session.commit()
    assert passkeys.of(alice) == []


def test_registration_options_exclude_the_persons_passkeys(app, make):
    user = make.user()
    phone = registered(user, Authenticator())
    _handle, options = passkeys.registration_options(user, RP, TTL)
    o = json.loads(options)
    assert [c["id"] for c in o["excludeCredentials"]] == [phone.credential_id]
    assert o["authenticatorSelection"]["residentKey"] == "required"
    assert o["authenticatorSelection"]["userVerification"] == "required"
    assert o["user"]["id"] != user.email  # the opaque subject identifier, never an address
