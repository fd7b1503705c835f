"""Emailed codes: whom they greet by name."""

from __future__ import annotations

from idp.domain import emails, verification
from idp.domain.verification import CodePolicy
from idp.extensions import db
from tests.mailbox import html_of, text_of

LURE = "Unlock your account at https://evil.example/unlock"


def test_a_code_for_an_address_being_added_greets_its_reader_without_the_account_name(
    app, make, mailbox
):
    jane = make.user("jane@example.org", given_name=LURE)
    emails.start_adding(jane, "head.teacher@school.example.org", CodePolicy())
    db.session.commit()
    message = mailbox.wait_for("head.teacher@school.example.org", "verification code")
    assert "evil.example" not in text_of(message) and "evil.example" not in html_of(message)
    assert text_of(message).startswith("Hello,")


def test_a_code_sent_to_a_verified_address_greets_its_owner_by_name(app, make, mailbox):
    jane = make.user("jane@example.org")
    verification.issue(jane, "sign_in", "jane@example.org", CodePolicy())
    db.session.commit()
    message = mailbox.wait_for("jane@example.org", "verification code")
    assert text_of(message).startswith("Dear Jane Smith,")
    assert "Dear Jane Smith," in html_of(message)
