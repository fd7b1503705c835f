"""The role policy: holders of the roles in ``auth.phishing_resistant_roles`` (by default User
Management and Global Listening) are walked through adding a passkey before anything else,
and cannot remove their last one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import Passkey
from tests.journeys import location, page_text, sign_in
from tests.oidc_helpers import RelyingParty, csrf_token
from tests.passkey_authenticator import Authenticator
from tests.passkeys import add_passkey

POLICY = "user_management ocr.user_management gl.exams_officer"


@pytest.fixture
def overrides(overrides):
    overrides["AUTH"]["PHISHING_RESISTANT_ROLES"] = POLICY
    return overrides


def test_the_default_policy_names_user_management_and_global_listening(app):
    from idp.config import AuthSettings

    assert AuthSettings().phishing_resistant_roles == POLICY


def test_an_exams_officer_adds_a_passkey_before_anything_else(app, client, make):
    centre = make.org("AA101")
    officer = make.exams_officer(centre)
    assert location(sign_in(client, officer.email)) == "/"
    gated = client.get("/organisation/AA101/users")
    assert location(gated) == "/account/passkey-required?next=/organisation/AA101/users"
    page = page_text(client.get(location(gated)))
    assert "Add a passkey to continue" in page
    assert location(client.get("/")).startswith("/account/passkey-required")
    # A service's sign-in waits too.
    rp = RelyingParty(client, make.client())
    assert location(rp.authorize()).startswith("/account/passkey-required")

    added = add_passkey(
        client,
        Authenticator(),
        page="/account/passkey-required?next=/organisation/AA101/users",
        next="/organisation/AA101/users",
    )
    assert "Save your recovery codes" in page_text(added)
    assert 'href="/organisation/AA101/users"' in page_text(added)
    assert client.get("/organisation/AA101/users").status_code == 200


def test_a_teacher_is_not_asked(app, client, make):
    centre = make.org("AA101")
    teacher = make.user("t@example.org", org=centre, roles=("sfa.teacher",))
    assert location(sign_in(client, teacher.email)) == "/"
    assert client.get("/").status_code == 200


def test_the_last_passkey_of_someone_who_needs_one_stays(app, client, make):
    centre = make.org("AA101")
    officer = make.exams_officer(centre)
    assert location(sign_in(client, officer.email)) == "/"
    add_passkey(client, Authenticator(), page="/account/passkey-required")
    passkey = db.session.scalars(select(Passkey).where(Passkey.user_id == officer.id)).one()
    remove = f"/account/security/passkeys/{passkey.id}/remove"
    question = client.get(remove)
    kept = client.post(remove, data={"csrf_token": csrf_token(question), "confirm": "yes"})
    assert kept.status_code == 400
    assert "You need at least one passkey" in page_text(kept)
    assert db.session.scalar(select(Passkey.id).where(Passkey.id == passkey.id)) is not None
    # With a second one, the first can go.
    add_passkey(client, Authenticator(), name="Spare key")
    token = csrf_token(client.get(remove))
    gone = client.post(remove, data={"csrf_token": token, "confirm": "yes"})
    assert location(gone) == "/account/security"
