"""Userinfo: the bearer token in the header (GET or POST) or in the form body."""

from __future__ import annotations


def test_userinfo_with_bearer_header_on_get(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    info = response.get_json()
    assert info["sub"] == teacher.sub
    assert info["email"] == "teacher@example.org"
    assert info["name"] == "Donald Duck"
    assert info["org"]["code"] == "AA101"
    assert info["roles"] == ["sfa.teacher"]


def test_userinfo_with_bearer_header_on_post(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.get_json()["sub"] == teacher.sub


def test_userinfo_with_token_in_form_body(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200
    assert response.get_json()["sub"] == teacher.sub


def test_userinfo_refuses_two_ways_at_once(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.post(
        "/userinfo",
        data={"access_token": tokens["access_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_userinfo_without_a_token_is_401_with_challenge(rp):
    response = rp.http.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_with_an_unknown_token_is_401(rp):
    response = rp.userinfo("not-a-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_refresh_token_is_not_an_access_token(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    assert rp.userinfo(tokens["refresh_token"]).status_code == 401


def test_userinfo_follows_the_scope(rp, teacher):
    tokens = rp.tokens("teacher@example.org", scope="openid email")
    info = rp.userinfo(tokens["access_token"]).get_json()
    assert set(info) == {"sub", "email", "email_verified"}


def test_claims_parameter_asks_for_individual_claims(rp, teacher):
    import json

    tokens = rp.tokens(
        "teacher@example.org",
        scope="openid",
        claims=json.dumps(
            {"userinfo": {"email": {"essential": True}}, "id_token": {"given_name": None}}
        ),
    )
    assert rp.userinfo(tokens["access_token"]).get_json()["email"] == "teacher@example.org"
    claims = rp.verify_id_token(tokens["id_token"])
    assert claims["given_name"] == "Donald" and "email" not in claims


def test_organisations_scope_lists_every_membership(rp, teacher, make, app):
    from idp.domain import organisations
    from idp.extensions import db

    other = make.org("BB202", name="Second Centre")
    organisations.set_roles(
        teacher,
        other,
        ["sfa.exams_officer", "aa.nominated_user"],
        app.extensions["idp.settings"].catalogue,
    )
    db.session.commit()
    tokens = rp.tokens("teacher@example.org", scope="openid organisations")
    info = rp.userinfo(tokens["access_token"]).get_json()
    assert info["organisations"] == [
        {
            "code": "AA101",
            "name": "AA Dummy Centre A (CIC)",
            "brand": "cambridge-international",
            "roles": ["sfa.teacher"],
        },
        {
            "code": "BB202",
            "name": "Second Centre",
            "brand": "cambridge-international",
            "roles": ["sfa.exams_officer"],
        },
    ]
