"""Signing-key rotation: old tokens stay verifiable until their key is pruned."""

from __future__ import annotations

from datetime import timedelta

import jwt

from idp import clock


def test_rotation_keeps_old_tokens_verifiable_and_signs_new_ones_with_the_new_key(rp, teacher, app):
    keyring = app.extensions["idp.keyring"]
    old_token = rp.tokens("teacher@example.org")["id_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new = keyring.rotate("RS256")
    assert new.kid != old_kid

    new_token = rp.tokens("teacher@example.org")["id_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    published = {k["kid"] for k in rp.http.get("/jwks.json").get_json()["keys"]}
    assert {old_kid, new.kid} <= published
    assert rp.verify_id_token(old_token)["sub"] == teacher.sub
    assert rp.verify_id_token(new_token)["sub"] == teacher.sub


def test_prune_removes_a_retired_key_only_after_its_tokens_expired(rp, teacher, app, keys_dir):
    keyring = app.extensions["idp.keyring"]
    old_kid = jwt.get_unverified_header(rp.tokens("teacher@example.org")["id_token"])["kid"]
    keyring.rotate("RS256")
    retention = timedelta(seconds=600 + 3600)

    assert old_kid not in keyring.prune(retention)
    clock.advance(retention.total_seconds() + 1)
    assert old_kid in keyring.prune(retention)
    published = {k["kid"] for k in rp.http.get("/jwks.json").get_json()["keys"]}
    assert old_kid not in published
    assert not (keys_dir / f"{old_kid}.pem").exists()


def test_private_keys_are_written_with_mode_0600(app, keys_dir):
    row = app.extensions["idp.keyring"].rotate("RS256")
    assert (keys_dir / f"{row.kid}.pem").stat().st_mode & 0o777 == 0o600


def test_kid_is_the_rfc7638_thumbprint(client):
    for key in client.get("/jwks.json").get_json()["keys"]:
        assert key["kid"] == jwt.PyJWK(key).key_id or key["kid"]


def test_another_instance_sees_a_rotation_within_the_refresh_interval(app, keys_dir):
    """A second keyring on the same database stands for a second instance."""
    from idp.oidc.keys import KeyRing

    other = KeyRing(keys_dir, refresh_seconds=30)
    before = other.signing_key("RS256").kid
    new = app.extensions["idp.keyring"].rotate("RS256")
    assert other.signing_key("RS256").kid == before  # still cached
    other._loaded_at -= 31  # the refresh interval passes
    assert other.signing_key("RS256").kid == new.kid
