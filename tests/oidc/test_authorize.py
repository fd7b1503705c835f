"""The authorization endpoint's checks: which errors get a page and which go back to the client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest


def error_params(response) -> dict[str, str]:
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(rp, client):
    response = rp.authorize(redirect_uri="https://attacker.example.net/callback")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not valid" in response.get_data(as_text=True)


def test_redirect_uri_must_match_exactly(rp):
    for variant in (
        rp.registered.redirect_uri + "/",
        rp.registered.redirect_uri + "?x=1",
        rp.registered.redirect_uri.upper(),
    ):
        response = rp.authorize(redirect_uri=variant)
        assert response.status_code == 400 and "Location" not in response.headers


def test_unknown_client_gets_an_error_page(rp):
    response = rp.authorize(client_id="no-such-client")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_missing_redirect_uri_gets_an_error_page(rp):
    response = rp.authorize(redirect_uri=None)
    assert response.status_code == 400 and "Location" not in response.headers


def test_missing_response_type_is_redirected_as_invalid_request(rp):
    response = rp.authorize(response_type=None)
    params = error_params(response)
    assert params["error"] == "invalid_request"
    assert params["state"] == rp.last.state
    assert params["iss"] == "http://localhost"


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token"])
def test_only_the_code_response_type_is_supported(rp, response_type):
    params = error_params(rp.authorize(response_type=response_type))
    assert params["error"] == "unsupported_response_type"
    assert params["iss"] == "http://localhost"


def test_openid_scope_is_required(rp):
    assert error_params(rp.authorize(scope="profile"))["error"] == "invalid_scope"


def test_repeated_parameter_is_invalid_request(rp, client):
    request = rp.request()
    query = urlencode(request.params) + "&scope=openid+email"
    params = error_params(client.get("/authorize?" + query))
    assert params["error"] == "invalid_request"


def test_repeated_redirect_uri_gets_an_error_page(rp, client):
    request = rp.request()
    query = urlencode(request.params) + "&redirect_uri=" + rp.registered.redirect_uri
    response = client.get("/authorize?" + query)
    assert response.status_code == 400 and "Location" not in response.headers


def test_oversized_parameter_is_refused(rp):
    assert error_params(rp.authorize(nonce="n" * 5000))["error"] == "invalid_request"


def test_unknown_parameters_are_ignored(rp, teacher):
    callback = rp.sign_in(
        "teacher@example.org",
        something_new="1",
        display="page",
        ui_locales="en",
        claims_locales="en",
        acr_values="1",
        login_hint="teacher@example.org",
    )
    assert "code" in callback.params


def test_request_objects_are_refused_with_their_own_error(rp):
    assert (
        error_params(rp.authorize(request="eyJhbGciOiJub25lIn0.e30."))["error"]
        == "request_not_supported"
    )
    assert (
        error_params(rp.authorize(request_uri="https://rp.example/r"))["error"]
        == "request_uri_not_supported"
    )


def test_response_mode_other_than_query_is_refused(rp):
    assert error_params(rp.authorize(response_mode="fragment"))["error"] == "invalid_request"


def test_public_client_must_use_pkce(public_rp):
    params = error_params(public_rp.authorize(code_challenge=None, code_challenge_method=None))
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]


def test_plain_pkce_is_refused(rp):
    request = rp.request()
    params = error_params(
        rp.authorize(code_challenge=request.verifier, code_challenge_method="plain")
    )
    assert params["error"] == "invalid_request"


def test_pkce_challenge_without_method_is_refused(rp):
    assert error_params(rp.authorize(code_challenge_method=None))["error"] == "invalid_request"


def test_malformed_claims_parameter_is_refused(rp):
    assert error_params(rp.authorize(claims="not json"))["error"] == "invalid_request"
    assert error_params(rp.authorize(claims="[1, 2]"))["error"] == "invalid_request"


def test_invalid_max_age_is_refused(rp):
    assert error_params(rp.authorize(max_age="-5"))["error"] == "invalid_request"
    assert error_params(rp.authorize(max_age="soon"))["error"] == "invalid_request"


def test_forged_id_token_hint_is_refused(rp):
    assert (
        error_params(rp.authorize(id_token_hint="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."))["error"]
        == "invalid_request"
    )


def test_disabled_client_is_refused(rp, app):
    from idp import clock
    from idp.extensions import db

    rp.registered.model.disabled_at = clock.now()
    db.session.commit()
    response = rp.authorize()
    assert response.status_code == 400 and "Location" not in response.headers


def test_resuming_an_unknown_interaction_shows_an_expired_page(client):
    response = client.get("/authorize/resume?ix=nothing-here")
    assert response.status_code == 410
