"""prompt, max_age, id_token_hint and consent at the authorization endpoint."""

from __future__ import annotations

from idp import clock
from tests.oidc.test_authorize import error_params
from tests.oidc_helpers import Callback, RelyingParty


def test_prompt_none_without_a_session_answers_login_required(rp):
    params = error_params(rp.authorize(prompt="none"))
    assert params["error"] == "login_required"
    assert params["state"] == rp.last.state
    assert params["iss"] == "http://localhost"


def test_prompt_none_with_a_session_returns_a_code_without_a_page(rp, teacher):
    rp.sign_in("teacher@example.org")
    result = rp.follow(rp.authorize(prompt="none"))
    assert isinstance(result, Callback) and "code" in result.params


def test_prompt_none_combined_with_other_values_is_invalid(rp):
    assert error_params(rp.authorize(prompt="none login"))["error"] == "invalid_request"


def test_prompt_login_shows_the_sign_in_page_again(rp, teacher):
    first = rp.verify_id_token(rp.tokens("teacher@example.org")["id_token"])
    clock.advance(5)
    page = rp.follow(rp.authorize(prompt="login"))
    assert not isinstance(page, Callback)
    assert "Sign in" in page.get_data(as_text=True)
    callback = rp.follow(rp.submit_login(page, "teacher@example.org"))
    assert isinstance(callback, Callback)
    second = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"], leeway=10)
    assert second["auth_time"] >= first["auth_time"] + 5


def test_elapsed_max_age_requires_signing_in_again(rp, teacher):
    rp.sign_in("teacher@example.org")
    clock.advance(120)
    page = rp.follow(rp.authorize(max_age="60"))
    assert not isinstance(page, Callback) and "Sign in" in page.get_data(as_text=True)
    callback = rp.follow(rp.submit_login(page, "teacher@example.org"))
    claims = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"], leeway=200)
    assert claims["auth_time"] >= clock.timestamp() - 1


def test_max_age_zero_always_asks_and_does_not_loop(rp, teacher):
    rp.sign_in("teacher@example.org")
    page = rp.follow(rp.authorize(max_age="0"))
    assert not isinstance(page, Callback)
    clock.advance(2)  # the person takes a moment to type their password
    callback = rp.follow(rp.submit_login(page, "teacher@example.org"))
    assert isinstance(callback, Callback) and "code" in callback.params


def test_max_age_not_elapsed_reuses_the_session(rp, teacher):
    rp.sign_in("teacher@example.org")
    result = rp.follow(rp.authorize(max_age="3600"))
    assert isinstance(result, Callback)


def test_elapsed_max_age_with_prompt_none_answers_login_required(rp, teacher):
    rp.sign_in("teacher@example.org")
    clock.advance(120)
    assert error_params(rp.authorize(max_age="60", prompt="none"))["error"] == "login_required"


def test_id_token_hint_for_another_user_requires_signing_in(rp, teacher, make):
    make.user("other@example.org")
    body = rp.tokens("teacher@example.org")
    rp.http.post("/logout", data={"id_token_hint": body["id_token"]})
    rp.sign_in("other@example.org")
    assert (
        error_params(rp.authorize(prompt="none", id_token_hint=body["id_token"]))["error"]
        == "login_required"
    )


def test_id_token_hint_of_the_signed_in_user_is_accepted(rp, teacher):
    body = rp.tokens("teacher@example.org")
    result = rp.follow(rp.authorize(prompt="none", id_token_hint=body["id_token"]))
    assert isinstance(result, Callback)


def test_third_party_client_asks_for_consent_once(client, make, teacher):
    rp = RelyingParty(client, make.client(first_party=False, name="Revision App"))
    page = rp.follow(rp.submit_login(rp.follow(rp.authorize()), "teacher@example.org"))
    assert not isinstance(page, Callback)
    html = page.get_data(as_text=True)
    assert "Revision App would like to use your My Cambridge account" in html
    from tests.oidc_helpers import csrf_token

    ix = html.split('name="ix" value="')[1].split('"')[0]
    callback = rp.follow(
        client.post(
            "/consent", data={"csrf_token": csrf_token(html), "ix": ix, "decision": "allow"}
        )
    )
    assert isinstance(callback, Callback) and "code" in callback.params
    # Remembered: the next request goes straight back.
    assert isinstance(rp.follow(rp.authorize(prompt="none")), Callback)


def test_declining_consent_returns_access_denied(client, make, teacher):
    rp = RelyingParty(client, make.client(first_party=False))
    page = rp.follow(rp.submit_login(rp.follow(rp.authorize()), "teacher@example.org"))
    html = page.get_data(as_text=True)
    from tests.oidc_helpers import csrf_token

    ix = html.split('name="ix" value="')[1].split('"')[0]
    callback = rp.follow(
        client.post("/consent", data={"csrf_token": csrf_token(html), "ix": ix, "decision": "deny"})
    )
    assert isinstance(callback, Callback)
    assert callback.params["error"] == "access_denied"
    assert callback.params["state"] == rp.last.state


def test_prompt_consent_asks_even_a_first_party_client(rp, teacher):
    rp.sign_in("teacher@example.org")
    page = rp.follow(rp.authorize(prompt="consent"))
    assert not isinstance(page, Callback)
    assert "would like to use your My Cambridge account" in page.get_data(as_text=True)


def test_prompt_none_when_consent_is_needed_answers_consent_required(client, make, teacher):
    rp = RelyingParty(client, make.client(first_party=False))
    first_party = RelyingParty(client, make.client())
    first_party.sign_in("teacher@example.org")
    assert error_params(rp.authorize(prompt="none"))["error"] == "consent_required"


def test_interaction_cannot_be_resumed_from_another_browser(rp, teacher, app):
    page = rp.follow(rp.authorize())
    ix = page.get_data(as_text=True).split('name="ix" value="')[1].split('"')[0]
    other_browser = app.test_client()
    assert other_browser.get(f"/authorize/resume?ix={ix}").status_code == 410
