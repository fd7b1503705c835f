"""Emailed codes: whom they greet by name, and how lately one was made for an address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from idp import clock
from idp.domain import emails, verification
from idp.domain.verification import CodePolicy
from idp.extensions import db
from idp.models import VerificationCode
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


def test_a_code_lately_made_for_an_address_is_found_in_the_window_not_the_history(app, make):
    jane = make.user("jane@example.org")
    policy = CodePolicy()
    long_ago = clock.now() - timedelta(days=30)
    old = [
        {
            "user_id": jane.id,
            "purpose": "add_email",
            "address": "shared@example.org",
            "code_hash": "x",
            "created_at": long_ago + timedelta(seconds=n),
            "expires_at": long_ago + timedelta(seconds=n + 600),
        }
        for n in range(500)
    ]
    db.session.execute(insert(VerificationCode.__table__), old)
    db.session.commit()
    assert not verification.issued_lately("add_email", "shared@example.org", policy)
    verification.issue(jane, "add_email", "shared@example.org", policy, send=False)
    db.session.commit()
    assert verification.issued_lately("add_email", "shared@example.org", policy)
    assert not verification.issued_lately("signup", "shared@example.org", policy)
    clock.advance(policy.resend_interval + 1)
    assert not verification.issued_lately("add_email", "shared@example.org", policy)

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses a plan from its statistics; SQLite's is fixed")
    compiled = verification._LATELY.compile(db.engine)
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN QUERY PLAN " + str(compiled), ["x"] * len(compiled.positiontup))
    plan = " ".join(row[3] for row in cursor.fetchall())
    assert "ix_verification_codes_address_purpose_at" in plan and "created_at>" in plan, plan
