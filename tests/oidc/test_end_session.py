"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from idp.extensions import db
from idp.models import AuthorizationCode, User
from tests.oidc.test_authorize import error_params
from tests.oidc_helpers import csrf_token

# {"alg": "none"} . {"sub": "x", "iss": "http://localhost"} . no signature
UNSIGNED_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiaXNzIjoiaHR0cDovL2xvY2FsaG9zdCJ9."


def test_logout_with_id_token_hint_redirects_with_state_and_ends_the_session(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
            "state": "bye-123",
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(rp.registered.post_logout_redirect_uri)
    assert parse_qs(urlsplit(location).query)["state"] == ["bye-123"]
    # Signed out: prompt=none now needs a login, and the session's tokens are revoked.
    assert error_params(rp.authorize(prompt="none"))["error"] == "login_required"
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_offline_access_survives_logout(rp, teacher):
    tokens = rp.tokens("teacher@example.org", scope="openid offline_access")
    rp.http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_unregistered_post_logout_redirect_uri_is_not_followed(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    response = rp.http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://attacker.example.net/",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "You have signed out" in html
    assert "https://attacker.example.net" not in html  # neither linked nor shown


def test_an_unregistered_return_address_is_explained_on_the_signed_out_page(rp, teacher):
    """A relying party whose address differs from the registered one by a trailing slash is
    signed out and told why nothing redirected, without the page showing the address."""
    tokens = rp.tokens("teacher@example.org")
    asked = rp.registered.post_logout_redirect_uri + "/"
    response = rp.http.get(
        "/logout",
        query_string={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": asked},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "has not registered with My Cambridge" in html
    assert "including any “/” at the end" in html
    assert asked not in html
    assert error_params(rp.authorize(prompt="none"))["error"] == "login_required"


def test_a_return_address_without_a_named_service_is_explained(client, rp, teacher):
    rp.sign_in("teacher@example.org")
    page = client.get("/logout", query_string={"post_logout_redirect_uri": "https://x.example/"})
    signed_out = client.post(
        "/logout",
        data={
            "confirm": "yes",
            "csrf_token": csrf_token(page),
            "post_logout_redirect_uri": "https://x.example/",
        },
    )
    html = signed_out.get_data(as_text=True)
    assert "did not say which service it came from" in html
    assert "https://x.example" not in html


def test_a_return_without_proof_it_came_from_the_service_is_explained(client, rp):
    """Nobody signed in and no ID token hint: a registered address is still not followed (a
    link anyone can make), and the page says why."""
    response = client.get(
        "/logout",
        query_string={
            "client_id": rp.client_id,
            "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "did not show that it came from" in html


def test_no_explanation_when_no_return_was_asked_for(rp, teacher):
    tokens = rp.tokens("teacher@example.org")
    html = rp.http.get("/logout", query_string={"id_token_hint": tokens["id_token"]}).get_data(
        as_text=True
    )
    assert "You have signed out" in html and "sent back" not in html


def test_logout_without_hint_asks_for_confirmation(rp, teacher):
    rp.sign_in("teacher@example.org")
    response = rp.http.get(
        "/logout",
        query_string={
            "client_id": rp.client_id,
            "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
            "state": "s1",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sign out of My Cambridge?" in html
    # Still signed in until confirmed.
    assert "code" in rp.follow(rp.authorize(prompt="none")).params
    confirmed = rp.http.post(
        "/logout",
        data={
            "csrf_token": csrf_token(html),
            "confirm": "yes",
            "client_id": rp.client_id,
            "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
            "state": "s1",
        },
    )
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == rp.registered.post_logout_redirect_uri + "?state=s1"
    assert error_params(rp.authorize(prompt="none"))["error"] == "login_required"


def test_confirmation_without_csrf_token_is_refused(rp, teacher):
    rp.sign_in("teacher@example.org")
    response = rp.http.post("/logout", data={"confirm": "yes"})
    assert response.status_code == 400
    assert "code" in rp.follow(rp.authorize(prompt="none")).params


def test_forged_id_token_hint_is_refused_without_signing_out(rp, teacher):
    rp.sign_in("teacher@example.org")
    response = rp.http.get(
        "/logout",
        query_string={
            "id_token_hint": UNSIGNED_TOKEN,
            "post_logout_redirect_uri": rp.registered.post_logout_redirect_uri,
        },
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "code" in rp.follow(rp.authorize(prompt="none")).params


def test_client_id_must_match_the_hints_audience(rp, teacher, make, client):
    from tests.oidc_helpers import RelyingParty

    tokens = rp.tokens("teacher@example.org")
    other = RelyingParty(client, make.client())
    response = rp.http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "client_id": other.client_id,
            "post_logout_redirect_uri": other.registered.post_logout_redirect_uri,
        },
    )
    assert response.status_code == 400


def test_front_channel_logout_frames_each_client_that_registered_it(client, make, teacher):
    from idp.extensions import db
    from tests.oidc_helpers import RelyingParty

    framed = make.client(redirect_uri="https://framed.example.org/cb")
    framed.model.extra_metadata = {
        "frontchannel_logout_uri": "https://framed.example.org/frontchannel?x=1"
    }
    db.session.commit()
    first = RelyingParty(client, framed)
    other = RelyingParty(client, make.client())
    tokens = first.tokens("teacher@example.org")
    other.tokens("teacher@example.org")
    sid = first.verify_id_token(tokens["id_token"])["sid"]

    page = client.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": framed.post_logout_redirect_uri,
            "state": "s1",
        },
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        f'src="https://framed.example.org/frontchannel?x=1&amp;iss=http%3A%2F%2Flocalhost&amp;sid={sid}"'
        in html
    )
    assert html.count("<iframe") == 1  # the other client registered no front-channel URI
    assert "frame-src https://framed.example.org" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert f'content="2;url={framed.post_logout_redirect_uri}?state=s1"' in html
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_a_code_issued_before_sign_out_cannot_be_redeemed_after_it(rp, teacher, client):
    callback = rp.sign_in("teacher@example.org")
    page = client.get("/logout")
    client.post("/logout", data={"confirm": "yes", "csrf_token": csrf_token(page)})
    # Retired by the sign-out itself, so a redemption racing with it cannot slip through.
    assert None not in db.session.scalars(db.select(AuthorizationCode.used_at)).all()
    response = rp.exchange(callback.code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_code_issued_before_sign_out_everywhere_cannot_be_redeemed_after_it(rp, teacher):
    from idp.domain import passwords

    callback = rp.sign_in("teacher@example.org")
    passwords.sign_out_everywhere(db.session.get(User, teacher.id))
    db.session.commit()
    response = rp.exchange(callback.code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
