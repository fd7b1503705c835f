"""The console's Signing keys: operators only; a rotation asks first, needs a reason, and is
recorded with it; the old key stays published."""

from __future__ import annotations

from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, SigningKey, StaffRole
from tests.journeys import location, page_text, submit


def _signing(alg: str = "RS256") -> list[SigningKey]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
        )
    )


def test_the_support_desk_has_no_keys_page(client, sign_in_staff):
    sign_in_staff("desk@example.org", role=StaffRole.SUPPORT)
    assert client.get("/console/keys").status_code == 404
    before = [k.kid for k in _signing()]
    refused = submit(
        client,
        "/console/keys/rotate",
        {"alg": "RS256", "reason": "just because", "confirm": "yes"},
        page_url="/console/",
    )
    assert refused.status_code == 404
    assert [k.kid for k in _signing()] == before
    assert "Signing keys" not in page_text(client.get("/console/"))


def test_an_operator_rotates_a_key_after_saying_why(operator, client):
    listed = page_text(operator.get("/console/keys"))
    old = _signing()[0]
    assert old.kid in listed and "Signing" in listed

    # No reason: nothing happens.
    empty = submit(
        operator, "/console/keys/rotate", {"alg": "RS256", "reason": " "}, page_url="/console/keys"
    )
    assert empty.status_code == 400 and "Say why" in page_text(empty)
    # The question first, and nothing yet.
    asked = submit(
        operator,
        "/console/keys/rotate",
        {"alg": "RS256", "reason": "yearly rotation"},
        page_url="/console/keys",
    )
    assert "Rotate the RS256 signing key?" in page_text(asked)
    assert [k.kid for k in _signing()] == [old.kid]
    # Yes: a new key signs, the old one is retired and still published.
    done = submit(
        operator,
        "/console/keys/rotate",
        {"alg": "RS256", "reason": "yearly rotation", "confirm": "yes"},
        page_url="/console/keys",
    )
    assert location(done) == "/console/keys"
    new = _signing()
    assert len(new) == 1 and new[0].kid != old.kid
    published = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert {old.kid, new[0].kid} <= published
    recorded = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.key_rotated"))
    assert recorded.details["reason"] == "yearly rotation"
    assert recorded.details["alg"] == "RS256"


def test_an_unknown_algorithm_is_refused(operator):
    before = [k.kid for k in _signing()]
    refused = submit(
        operator,
        "/console/keys/rotate",
        {"alg": "HS256", "reason": "try", "confirm": "yes"},
        page_url="/console/keys",
    )
    assert refused.status_code == 400 and "RS256 or ES256" in page_text(refused)
    assert [k.kid for k in _signing()] == before
