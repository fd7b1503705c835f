"""The operators' client pages: hidden from everyone else; register, edit, rotate, disable."""

from __future__ import annotations

import re

from idp.extensions import db
from tests.journeys import location, page_text, sign_in, submit
from tests.oidc_helpers import RelyingParty


def test_the_pages_do_not_exist_for_other_people(client, make):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    assert client.get("/operator/clients").status_code == 404
    assert "Clients</a>" not in page_text(client.get("/"))


def test_register_a_client_and_see_its_secret_once(operator):
    response = submit(
        operator,
        "/operator/clients/new",
        {
            "name": "Results Analysis",
            "redirect_uris": "https://results.example.org/callback\n",
            "post_logout_redirect_uris": "https://results.example.org/",
            "services": "submit_for_assessment",
            "third_party": "yes",
        },
    )
    html = page_text(response)
    assert "Results Analysis is registered" in html and "shown only now" in html
    client_id = re.search(r"<dt>Client id</dt><dd><code>([^<]+)", html).group(1)
    listing = page_text(operator.get("/operator/clients"))
    assert "Results Analysis" in listing and client_id in listing and "third-party" in listing
    assert (
        re.search(
            r"<dt>Client secret</dt>", page_text(operator.get(f"/operator/clients/{client_id}"))
        )
        is None
    )


def test_bad_uris_get_a_clear_error_and_change_nothing(operator, make):
    registered = make.client()
    view = f"/operator/clients/{registered.client_id}"
    for uri, message in (
        ("http://evil.example.org/cb", "must use https (http is allowed on loopback only)"),
        ("https://rp.example.org/cb#frag", "must not contain a fragment"),
        ("", "Register at least one redirect URI."),
    ):
        response = submit(operator, view, {"redirect_uris": uri})
        assert message in page_text(response), uri
    db.session.refresh(registered.model)
    assert registered.model.redirect_uris == [registered.redirect_uri]
    response = submit(operator, view, {"redirect_uris": "https://new.example.org/cb"})
    assert location(response) == view
    db.session.refresh(registered.model)
    assert registered.model.redirect_uris == ["https://new.example.org/cb"]


def test_rotating_the_secret_stops_the_old_one_and_disabling_stops_the_client(operator, app, make):
    make.user("teacher@example.org")
    registered = make.client()
    rp = RelyingParty(app.test_client(), registered)
    callback = rp.sign_in("teacher@example.org")
    html = page_text(
        submit(
            operator,
            f"/operator/clients/{registered.client_id}/secret",
            {},
            page_url=f"/operator/clients/{registered.client_id}",
        )
    )
    new_secret = re.search(r"<dt>Client secret</dt><dd><code>([^<]+)", html).group(1)
    assert rp.exchange(callback.code).status_code == 401  # the old secret
    registered.secret = new_secret
    assert rp.exchange(rp.sign_in("teacher@example.org").code).status_code == 200

    submit(
        operator,
        f"/operator/clients/{registered.client_id}/disable",
        {},
        page_url=f"/operator/clients/{registered.client_id}",
    )
    assert "This sign-in link is not valid" in page_text(rp.authorize())
    submit(
        operator,
        f"/operator/clients/{registered.client_id}/enable",
        {},
        page_url=f"/operator/clients/{registered.client_id}",
    )
    assert rp.authorize().status_code in (200, 302)


def test_grant_api_access_and_name_a_data_holder(operator, make):
    registered = make.client()
    rp = RelyingParty(operator, registered)
    view = f"/operator/clients/{registered.client_id}"
    response = submit(
        operator,
        f"{view}/api",
        {"api_scopes": "users.read", "user_data_uri": "https://rp.example.org/user-data"},
        page_url=view,
    )
    assert location(response) == view
    html = page_text(operator.get(view))
    assert "<dt>API scopes</dt><dd>users.read</dd>" in html
    assert "https://rp.example.org/user-data" in html
    granted = rp.http.post("/token", **rp._auth({"grant_type": "client_credentials"}, "basic"))
    assert granted.get_json()["scope"] == "users.read"

    response = submit(
        operator,
        f"{view}/api",
        {"api_scopes": "users.read", "user_data_uri": "http://rp.example.org/user-data"},
        page_url=view,
    )
    assert response.status_code == 200
    assert "must use https" in page_text(response)
    # The refused change left everything as it was.
    assert "<dt>API scopes</dt><dd>users.read</dd>" in page_text(operator.get(view))


def _id_token_header(app, registered) -> dict:
    import jwt

    make_rp = RelyingParty(app.test_client(), registered)
    tokens = make_rp.exchange(make_rp.sign_in("teacher@example.org").code).get_json()
    make_rp.verify_id_token(tokens["id_token"])  # against the published JWKS
    return jwt.get_unverified_header(tokens["id_token"])


def test_an_operator_chooses_how_a_clients_id_tokens_are_signed(operator, app, make):
    from sqlalchemy import delete

    from idp.models import SigningKey

    make.user("teacher@example.org")
    registered = make.client()
    view = f"/operator/clients/{registered.client_id}"
    keyring = app.extensions["idp.keyring"]
    db.session.execute(delete(SigningKey).where(SigningKey.alg == "ES256"))
    db.session.commit()
    keyring.invalidate()
    assert _id_token_header(app, registered)["alg"] == "RS256"

    # No ES256 key yet: refused, and the client keeps signing as before.
    response = submit(operator, f"{view}/id-token-alg", {"id_token_alg": "ES256"}, page_url=view)
    assert "There is no ES256 signing key yet" in page_text(response)
    assert _id_token_header(app, registered)["alg"] == "RS256"

    keyring.rotate("ES256")
    response = submit(operator, f"{view}/id-token-alg", {"id_token_alg": "ES256"}, page_url=view)
    assert location(response) == view
    assert "<dt>ID token signature</dt><dd>ES256</dd>" in page_text(operator.get(view))
    assert _id_token_header(app, registered)["alg"] == "ES256"
    # Back to the provider's default.
    submit(operator, f"{view}/id-token-alg", {"id_token_alg": ""}, page_url=view)
    assert _id_token_header(app, registered)["alg"] == "RS256"
    assert re.search(
        r"<dt>ID token signature</dt><dd>The provider.{1,5}s default \(RS256\)</dd>",
        page_text(operator.get(view)),
    )


def test_a_client_registered_with_es256_gets_es256_id_tokens(operator, app, make):
    app.extensions["idp.keyring"].rotate("ES256")
    make.user("teacher@example.org")
    html = page_text(
        submit(
            operator,
            "/operator/clients/new",
            {
                "name": "Results Analysis",
                "redirect_uris": "https://results.example.org/callback\n",
                "id_token_alg": "ES256",
            },
        )
    )
    client_id = re.search(r"<dt>Client id</dt><dd><code>([^<]+)", html).group(1)
    assert "<dt>ID token signature</dt><dd>ES256</dd>" in page_text(
        operator.get(f"/operator/clients/{client_id}")
    )
