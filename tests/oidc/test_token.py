"""The token endpoint with authorization codes: client authentication, single use, PKCE."""

from __future__ import annotations

import base64

from werkzeug.datastructures import MultiDict

from idp import clock


def test_code_can_be_redeemed_only_once_and_reuse_revokes_its_tokens(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    first = rp.exchange(callback.code)
    assert first.status_code == 200
    tokens = first.get_json()
    assert rp.userinfo(tokens["access_token"]).status_code == 200

    second = rp.exchange(callback.code)
    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"
    # Every token issued from that code is now revoked.
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_401_invalid_client(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    raw = f"{rp.client_id}:not-the-secret".encode()
    response = rp.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": callback.code,
            "redirect_uri": rp.registered.redirect_uri,
            "code_verifier": rp.last.verifier,
        },
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers or response.status_code == 401
    # The refused attempt did not use the code up.
    assert rp.exchange(callback.code).status_code == 200


def test_client_secret_post_works_when_registered(client, make, teacher):
    from tests.oidc_helpers import RelyingParty

    rp = RelyingParty(client, make.client(auth_method="client_secret_post"))
    callback = rp.sign_in("teacher@example.org")
    assert rp.exchange(callback.code, auth="basic").status_code == 401
    assert rp.exchange(callback.code, auth="post").status_code == 200


def test_confidential_client_must_authenticate(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    response = rp.exchange(callback.code, auth="none")
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_public_client_redeems_with_verifier_and_no_secret(public_rp, teacher):
    callback = public_rp.sign_in("teacher@example.org")
    response = public_rp.exchange(callback.code)
    assert response.status_code == 200
    assert public_rp.verify_id_token(response.get_json()["id_token"])["sub"] == teacher.sub


def test_public_client_without_verifier_is_refused(public_rp, teacher):
    callback = public_rp.sign_in("teacher@example.org")
    response = public_rp.exchange(callback.code, verifier="")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_wrong_code_verifier_is_invalid_grant(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    response = rp.exchange(callback.code, verifier="x" * 50)
    assert response.get_json()["error"] == "invalid_grant"


def test_confidential_client_without_pkce_is_accepted(rp, teacher):
    callback = rp.sign_in("teacher@example.org", code_challenge=None, code_challenge_method=None)
    response = rp.exchange(callback.code, verifier="")
    assert response.status_code == 200


def test_verifier_without_a_challenge_is_refused(rp, teacher):
    callback = rp.sign_in("teacher@example.org", code_challenge=None, code_challenge_method=None)
    response = rp.exchange(callback.code, verifier="y" * 50)
    assert response.get_json()["error"] == "invalid_request"


def test_code_expires_after_a_minute(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    clock.advance(61)
    response = rp.exchange(callback.code)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_redirect_uri(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    response = rp.exchange(callback.code, redirect_uri="https://rp.example.org/other")
    assert response.get_json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_client(rp, teacher, make, client):
    from tests.oidc_helpers import RelyingParty

    callback = rp.sign_in("teacher@example.org")
    other = RelyingParty(client, make.client())
    response = other.exchange(
        callback.code, verifier=rp.last.verifier, redirect_uri=rp.registered.redirect_uri
    )
    assert response.get_json()["error"] == "invalid_grant"
    # The legitimate client can still redeem it.
    assert rp.exchange(callback.code).status_code == 200


def test_unknown_grant_type(rp):
    response = rp.http.post(
        "/token", data={"grant_type": "password", "username": "a", "password": "b"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_token_endpoint_refuses_get(rp):
    response = rp.http.get("/token")
    assert response.status_code == 405
    assert response.is_json


def test_suspended_user_cannot_redeem_a_code(rp, teacher, app):
    from idp.extensions import db
    from idp.models import User

    callback = rp.sign_in("teacher@example.org")
    db.session.get(User, teacher.id).status = "suspended"
    db.session.commit()
    assert rp.exchange(callback.code).get_json()["error"] == "invalid_grant"


def test_es256_client_gets_es256_id_tokens(client, make, teacher, app):
    from tests.oidc_helpers import RelyingParty

    app.extensions["idp.keyring"].rotate("ES256")
    rp = RelyingParty(client, make.client(alg="ES256"))
    token = rp.tokens("teacher@example.org")["id_token"]
    import jwt

    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert rp.verify_id_token(token)["sub"] == teacher.sub


def test_a_code_whose_session_has_ended_is_refused(rp, teacher):
    """Even a code the sign-out did not retire (issued while the session was ending)."""
    from sqlalchemy import update

    from idp.extensions import db
    from idp.models import AuthSession

    callback = rp.sign_in("teacher@example.org")
    db.session.execute(update(AuthSession).values(ended_at=clock.now()))
    db.session.commit()
    response = rp.exchange(callback.code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def _code_form(rp, code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.registered.redirect_uri,
        "code_verifier": rp.last.verifier,
    }


def _basic(rp) -> dict[str, str]:
    raw = f"{rp.client_id}:{rp.registered.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_a_repeated_parameter_is_invalid_request(rp, teacher):
    first = rp.sign_in("teacher@example.org").code
    first_verifier = rp.last.verifier
    second = rp.sign_in("teacher@example.org").code
    form = _code_form(rp, second)
    data = MultiDict(
        [*form.items(), ("code", first), ("redirect_uri", "https://elsewhere.example.org/cb")]
    )
    response = rp.http.post("/token", data=data, headers=_basic(rp))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert rp.exchange(first, verifier=first_verifier).status_code == 200


def test_token_parameters_are_read_from_the_body_only(rp, teacher):
    code = rp.sign_in("teacher@example.org").code
    form = _code_form(rp, code)
    query = {"grant_type": form.pop("grant_type"), "redirect_uri": form.pop("redirect_uri")}
    response = rp.http.post("/token", query_string=query, data=form, headers=_basic(rp))
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"

    form = _code_form(rp, code)
    query = {"redirect_uri": form.pop("redirect_uri")}
    response = rp.http.post("/token", query_string=query, data=form, headers=_basic(rp))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
