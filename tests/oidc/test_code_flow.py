"""The authorization code flow with PKCE, end to end, as a relying party sees it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.oidc_helpers import half_hash


def test_full_code_flow_gives_verified_id_token(rp, teacher):
    callback = rp.sign_in("teacher@example.org")
    assert callback.params["state"] == rp.last.state
    assert callback.params["iss"] == "http://localhost"  # RFC 9207

    response = rp.exchange(callback.code)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["refresh_token"]

    claims = rp.verify_id_token(body["id_token"], nonce=rp.last.nonce)
    assert claims["sub"] == teacher.sub
    assert claims["sub"] != "teacher@example.org"
    assert claims["aud"] == rp.client_id
    assert claims["at_hash"] == half_hash(body["access_token"])
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "1"
    assert claims["sid"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert claims["email"] == "teacher@example.org"
    assert claims["email_verified"] is True
    assert claims["given_name"] == "Donald" and claims["family_name"] == "Duck"


def test_id_token_carries_organisation_and_only_this_services_roles(rp, teacher):
    body = rp.tokens("teacher@example.org")
    claims = rp.verify_id_token(body["id_token"])
    assert claims["org"] == {
        "code": "AA101",
        "name": "AA Dummy Centre A (CIC)",
        "brand": "cambridge-international",
    }
    # The client is registered for Submit for Assessment only: no Access Arrangements role.
    assert claims["roles"] == ["sfa.teacher"]


def test_scope_decides_which_claims_are_released(rp, teacher):
    body = rp.tokens("teacher@example.org", scope="openid")
    claims = rp.verify_id_token(body["id_token"])
    assert "email" not in claims and "name" not in claims and "roles" not in claims
    assert body["scope"] == "openid"


def test_second_sign_in_reuses_the_session(rp, teacher):
    rp.sign_in("teacher@example.org")
    response = rp.authorize()
    location = response.headers["Location"]
    assert location.startswith(rp.registered.redirect_uri)
    assert "code" in parse_qs(urlsplit(location).query)


def test_authorization_redirect_is_not_leaked_by_referrer(rp, teacher):
    rp.sign_in("teacher@example.org")
    response = rp.authorize()
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_wrong_password_shows_one_generic_error(rp, teacher, client):
    page = rp.follow(rp.authorize())
    for email, password in (
        ("teacher@example.org", "wrong password!"),
        ("nobody@example.org", "whatever1234"),
    ):
        response = rp.submit_login(page, email, password)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "Enter a correct email address and password." in html
        assert "nobody" not in html.split("There is a problem")[1].split("</ul>")[0]


def test_authorization_request_by_post(rp, teacher, client):
    rp.sign_in("teacher@example.org")
    request = rp.request()
    response = client.post("/authorize", data=request.params)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(rp.registered.redirect_uri)
