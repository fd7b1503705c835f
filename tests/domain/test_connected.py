"""The rules of connected accounts, without any upstream: one subject, one account; no
disconnecting the last way in."""

from __future__ import annotations

import pytest

from idp.domain import connected
from idp.domain.connected import Identity
from idp.errors import Conflict, InvalidInput, NotFound
from idp.extensions import db


def _google(subject: str = "g-1") -> Identity:
    return Identity("google", subject, "someone@example.com", True, "Someone")


def test_a_subject_connects_to_one_account_and_each_account_to_one_per_upstream(make, mailbox):
    jane, john = make.user("jane@example.org"), make.user("john@example.org")
    connected.link(jane, _google(), "Google")
    db.session.commit()
    with pytest.raises(InvalidInput, match="already connected to yours"):
        connected.link(jane, _google(), "Google")
    with pytest.raises(Conflict, match="another My Cambridge account"):
        connected.link(john, _google(), "Google")
    with pytest.raises(Conflict, match="Another Google account is connected to yours"):
        connected.link(jane, _google("g-2"), "Google")
    db.session.rollback()
    found = connected.account_for(_google())
    assert found is not None and found[0].id == jane.id
    assert connected.account_for(_google("g-2")) is None


def test_the_last_way_in_cannot_be_disconnected(make, mailbox):
    jane = make.user("jane@example.org")
    connected.link(jane, _google(), "Google")
    jane.password_hash = None  # an account that signs in only with Google
    db.session.commit()
    with pytest.raises(InvalidInput, match="only way to sign in"):
        connected.unlink(jane, "google", "Google")
    db.session.rollback()
    assert list(connected.connections(jane)) == ["google"]

    connected.link(jane, Identity("facebook", "f-1"), "Facebook")
    connected.unlink(jane, "google", "Google")  # Facebook still lets her in
    db.session.commit()
    assert list(connected.connections(jane)) == ["facebook"]
    with pytest.raises(NotFound):
        connected.unlink(jane, "google", "Google")
