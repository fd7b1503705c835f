"""Token revocation (RFC 7009)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict


def test_revoking_an_access_token_stops_it(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.revoke(tokens["access_token"], "access_token")
    assert response.status_code == 200
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    # The refresh token still works.
    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_the_grant(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    assert rp.revoke(tokens["refresh_token"]).status_code == 200
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_revoking_an_unknown_token_is_still_200(rp):
    assert rp.revoke("no-such-token").status_code == 200


def test_revocation_needs_client_authentication(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post("/revoke", data={"token": tokens["access_token"]})
    assert response.status_code in (400, 401)
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(rp, teacher, make, client):
    from tests.oidc_helpers import RelyingParty

    tokens = rp.tokens("teacher@example.org")
    other = RelyingParty(client, make.client())
    assert other.revoke(tokens["access_token"]).status_code != 200
    assert rp.userinfo(tokens["access_token"]).status_code == 200


def test_public_client_revokes_its_own_token(public_rp, teacher):
    tokens = public_rp.tokens("teacher@example.org")
    assert public_rp.revoke(tokens["refresh_token"]).status_code == 200
    assert public_rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_an_unknown_token_type_hint_is_ignored(rp, teacher):
    """RFC 7009 2.1: a hint the server cannot use widens the search; it is no error."""
    tokens = rp.tokens("teacher@example.org")
    response = rp.revoke(tokens["access_token"], "id_token")
    assert response.status_code == 200
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_a_repeated_parameter_is_invalid_request(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    data = MultiDict([("token", tokens["access_token"]), ("token", tokens["refresh_token"])])
    headers = rp._auth({}, "basic")["headers"]
    response = rp.http.post("/revoke", data=data, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert rp.userinfo(tokens["access_token"]).status_code == 200
