"""Refresh tokens: rotation, reuse detection, and claims that follow role changes."""

from __future__ import annotations

from idp import clock
from idp.extensions import db


def test_refresh_rotates_the_refresh_token(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.refresh(tokens["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    fresh = response.get_json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    claims = rp.verify_id_token(fresh["id_token"])
    assert claims["sub"] == teacher.sub
    assert "nonce" not in claims
    assert rp.refresh(fresh["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    fresh = rp.refresh(tokens["refresh_token"]).get_json()

    replay = rp.refresh(tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    # The thief's replay also kills the legitimate holder's newer tokens.
    assert rp.refresh(fresh["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(fresh["access_token"]).status_code == 401


def test_refresh_token_belongs_to_its_client(rp, teacher, make, client):
    from tests.oidc_helpers import RelyingParty

    tokens = rp.tokens("teacher@example.org")
    other = RelyingParty(client, make.client())
    assert other.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_the_scope(rp, teacher):
    tokens = rp.tokens("teacher@example.org", scope="openid email")
    response = rp.refresh(tokens["refresh_token"], scope="openid email profile")
    assert response.get_json()["error"] == "invalid_scope"


def test_refresh_may_narrow_the_scope(rp, teacher):
    tokens = rp.tokens("teacher@example.org", scope="openid email profile")
    response = rp.refresh(tokens["refresh_token"], scope="openid email")
    assert response.status_code == 200
    assert response.get_json()["scope"] == "openid email"


def test_role_change_shows_in_the_next_token(rp, teacher, centre, app):
    from idp.domain import organisations

    tokens = rp.tokens("teacher@example.org")
    assert rp.verify_id_token(tokens["id_token"])["roles"] == ["sfa.teacher"]
    organisations.set_roles(
        teacher, centre, ["sfa.exams_officer"], app.extensions["idp.settings"].catalogue
    )
    db.session.commit()
    fresh = rp.refresh(tokens["refresh_token"]).get_json()
    assert rp.verify_id_token(fresh["id_token"])["roles"] == ["sfa.exams_officer"]
    assert rp.userinfo(fresh["access_token"]).get_json()["roles"] == ["sfa.exams_officer"]


def test_suspended_user_cannot_refresh(rp, teacher):
    from idp.models import User

    tokens = rp.tokens("teacher@example.org")
    db.session.get(User, teacher.id).status = "suspended"
    db.session.commit()
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_refresh_token_expires(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    clock.advance(31 * 24 * 3600)
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_access_token_expires(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    clock.advance(tokens["expires_in"] + 1)
    assert rp.userinfo(tokens["access_token"]).status_code == 401
