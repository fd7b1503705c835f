"""Apps with access: the consents a user gave third-party services, and taking one back."""

from __future__ import annotations

from tests.journeys import location, page_text, sign_in, submit
from tests.oidc.test_authorize import error_params
from tests.oidc_helpers import Callback, RelyingParty, csrf_token


def _allow(rp: RelyingParty, client) -> dict:
    page = rp.follow(rp.authorize(scope="openid profile email offline_access"))
    html = page.get_data(as_text=True)
    ix = html.split('name="ix" value="')[1].split('"')[0]
    callback = rp.follow(
        client.post(
            "/consent", data={"csrf_token": csrf_token(html), "ix": ix, "decision": "allow"}
        )
    )
    assert isinstance(callback, Callback)
    return rp.exchange(callback.code).get_json()


def test_consent_is_listed_and_revoking_it_cuts_the_service_off(client, make):
    make.user("jane@example.org")
    rp = RelyingParty(client, make.client(first_party=False, name="Revision App"))
    assert location(sign_in(client, "jane@example.org")) == "/"
    tokens = _allow(rp, client)

    page = page_text(client.get("/account/apps"))
    assert "Revision App" in page and "your email address" in page
    assert "access while you are not signed in" in page

    response = submit(
        client, "/account/apps/revoke", {"client_id": rp.client_id}, page_url="/account/apps"
    )
    assert location(response) == "/account/apps"
    assert "no longer has access" in page_text(client.get("/account/apps"))
    assert "Revision App" not in page_text(client.get("/account/apps"))
    # Its tokens are dead, and it must ask again.
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert error_params(rp.authorize(prompt="none"))["error"] == "consent_required"


def test_another_users_consent_cannot_be_revoked(client, app, make):
    make.user("jane@example.org")
    make.user("john@example.org")
    rp = RelyingParty(app.test_client(), make.client(first_party=False))
    sign_in(rp.http, "john@example.org")
    _allow(rp, rp.http)
    sign_in(client, "jane@example.org")
    response = submit(
        client, "/account/apps/revoke", {"client_id": rp.client_id}, page_url="/account/apps"
    )
    assert response.status_code == 404
    assert isinstance(rp.follow(rp.authorize(prompt="none")), Callback)  # John's still stands
