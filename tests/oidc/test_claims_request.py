"""The ``claims`` request parameter (OIDC Core 5.5): it moves granted claims between the ID
token and userinfo, it never releases a claim beyond the granted scopes, and an essential
``acr`` is met or the request fails (5.5.1.1)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pyotp

from idp import clock
from idp.domain import registration, totp
from idp.extensions import db
from idp.models import Client
from tests.factories import RegisteredClient
from tests.oidc_helpers import Callback, RelyingParty, csrf_token

SCOPED = {"email", "email_verified", "name", "given_name", "organisations", "org", "roles"}
EVERYTHING = {"email": None, "name": None, "given_name": None, "organisations": None}
ESSENTIAL_ACR_2 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["2"]}}})


def _claims(**members: dict[str, object]) -> str:
    return json.dumps(members)


def _registered(client, make, scope: str) -> RelyingParty:
    """A third-party client registered by the service itself (people are asked to consent)."""
    token, _ = registration.issue_initial_token(
        ttl_seconds=3600, service_keys=["submit_for_assessment"], uses=1, catalogue=make.catalogue
    )
    db.session.commit()
    body = {"client_name": "Quiz", "redirect_uris": ["https://quiz.example.org/cb"], "scope": scope}
    reg = client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})
    reg = reg.get_json()
    assert reg["scope"] == scope
    model = db.session.scalar(db.select(Client).where(Client.client_id == reg["client_id"]))
    registered = RegisteredClient(
        model, reg["client_id"], reg["client_secret"], body["redirect_uris"][0], "https://x/bye"
    )
    return RelyingParty(client, registered)


def _consent_page(rp: RelyingParty, email: str, **params: str):
    page = rp.follow(rp.submit_login(rp.follow(rp.authorize(**params)), email))
    assert not isinstance(page, Callback)
    assert page.status_code == 200 and 'value="allow"' in page.get_data(as_text=True)
    return page


def _allow(rp: RelyingParty, page) -> Callback:
    ix = re.search(r'name="ix" value="([^"]+)"', page.get_data(as_text=True))
    assert ix
    form = {"csrf_token": csrf_token(page), "ix": ix.group(1), "decision": "allow"}
    callback = rp.follow(rp.http.post("/consent", data=form))
    assert isinstance(callback, Callback)
    return callback


def _released(rp: RelyingParty, code: str) -> tuple[dict, dict, dict]:
    """What the client learns from one code: ID token, userinfo and its own introspection."""
    tokens = rp.exchange(code).get_json()
    id_token = rp.verify_id_token(tokens["id_token"])
    info = rp.userinfo(tokens["access_token"]).get_json()
    introspected = rp.introspect(tokens["access_token"]).get_json()
    assert introspected["active"] is True
    return id_token, info, introspected


# -- released only within the granted scopes ------------------------------------------


def test_claims_parameter_cannot_reach_past_the_clients_scope_and_the_users_consent(
    client, make, teacher
):
    rp = _registered(client, make, "openid")
    claims = _claims(userinfo=EVERYTHING, id_token=EVERYTHING)
    page = _consent_page(rp, "teacher@example.org", scope="openid", claims=claims)
    id_token, info, introspected = _released(rp, _allow(rp, page).code)
    assert not (set(id_token) | set(info) | set(introspected)) & SCOPED
    assert info == {"sub": teacher.sub}

    # Consent to openid is remembered; the next such request skips consent and still
    # learns nothing more.
    callback = rp.follow(rp.authorize(scope="openid", claims=claims))
    assert isinstance(callback, Callback)
    id_token, info, introspected = _released(rp, callback.code)
    assert not (set(id_token) | set(info) | set(introspected)) & SCOPED


def test_claims_parameter_releases_only_what_the_user_consented_to(client, make, teacher):
    # The client may ask for email and profile, but this request asks (and the user
    # consents) only to email: profile claims named in `claims` stay back.
    rp = _registered(client, make, "openid profile email")
    claims = _claims(userinfo=EVERYTHING, id_token=EVERYTHING)
    page = _consent_page(rp, "teacher@example.org", scope="openid email", claims=claims)
    id_token, info, introspected = _released(rp, _allow(rp, page).code)
    for released in (id_token, info, introspected):
        assert released["email"] == "teacher@example.org"
        assert not set(released) & {"name", "given_name", "organisations", "org", "roles"}


def test_first_party_client_moves_a_granted_claim_into_the_id_token(rp, teacher):
    tokens = rp.tokens(
        "teacher@example.org", scope="openid email", claims=_claims(id_token={"email": None})
    )
    id_token = rp.verify_id_token(tokens["id_token"])
    assert id_token["email"] == "teacher@example.org" and id_token["email_verified"] is True
    assert not set(id_token) & {"name", "given_name", "organisations", "org", "roles"}


def test_first_party_client_cannot_name_a_claim_outside_its_allowed_scopes(rp, teacher):
    rp.registered.model.scope = "openid profile email roles"
    db.session.commit()
    tokens = rp.tokens(
        "teacher@example.org",
        scope="openid",
        claims=_claims(userinfo={"organisations": None}, id_token={"organisations": None}),
    )
    assert "organisations" not in rp.verify_id_token(tokens["id_token"])
    assert "organisations" not in rp.userinfo(tokens["access_token"]).get_json()
    assert "organisations" not in rp.introspect(tokens["access_token"]).get_json()


# -- an essential acr -----------------------------------------------------------------


def _error(result) -> dict[str, str]:
    assert isinstance(result, Callback), result.get_data(as_text=True)[:300]
    assert "code" not in result.params
    return result.params


def test_essential_acr_that_cannot_be_met_is_refused_not_downgraded(rp, teacher):
    page = rp.follow(rp.authorize(claims=ESSENTIAL_ACR_2))
    params = _error(rp.follow(rp.submit_login(page, "teacher@example.org")))
    assert params["error"] == "access_denied"
    assert params["error_description"] == "The requested authentication level cannot be met."
    assert params["state"] == rp.last.state and params["iss"] == "http://localhost"

    # Already signed in with one factor: refused at once, no code.
    params = _error(rp.follow(rp.authorize(claims=ESSENTIAL_ACR_2)))
    assert params["error"] == "access_denied"


def test_essential_acr_with_prompt_none_needs_a_sign_in(rp, teacher):
    rp.sign_in("teacher@example.org")
    params = _error(rp.follow(rp.authorize(claims=ESSENTIAL_ACR_2, prompt="none")))
    assert params["error"] == "login_required"
    assert params["state"] == rp.last.state and params["iss"] == "http://localhost"


def test_essential_acr_is_met_by_a_sign_in_with_an_authenticator_app(rp, teacher, client):
    generator = _enrol(teacher)
    page = rp.follow(rp.authorize(claims=ESSENTIAL_ACR_2))
    response = rp.submit_login(page, "teacher@example.org")
    callback = rp.follow(_totp(client, generator, response))
    assert isinstance(callback, Callback) and "code" in callback.params
    id_token = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
    assert id_token["acr"] == "2" and id_token["amr"] == ["pwd", "otp", "mfa"]


def test_essential_acr_steps_up_a_one_factor_session_of_a_user_with_an_app(rp, teacher, client):
    rp.sign_in("teacher@example.org")  # one factor
    generator = _enrol(teacher)  # the app is set up later
    page = rp.follow(rp.authorize(claims=ESSENTIAL_ACR_2))
    assert not isinstance(page, Callback)
    callback = rp.follow(_totp(client, generator, rp.submit_login(page, "teacher@example.org")))
    assert isinstance(callback, Callback) and "code" in callback.params
    id_token = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
    assert id_token["acr"] == "2"


def test_essential_acr_accepts_any_of_its_values(rp, teacher):
    claims = _claims(id_token={"acr": {"essential": True, "values": ["2", "1"]}})
    tokens = rp.tokens("teacher@example.org", claims=claims)
    assert rp.verify_id_token(tokens["id_token"])["acr"] == "1"


def test_voluntary_acr_request_is_answered_with_the_level_reached(rp, teacher):
    for acr in ({"values": ["2"]}, {"essential": False, "values": ["2"]}, None):
        tokens = rp.tokens("teacher@example.org", claims=_claims(id_token={"acr": acr}))
        assert rp.verify_id_token(tokens["id_token"])["acr"] == "1"


def _enrol(user) -> pyotp.TOTP:
    secret = totp.new_secret()
    generator = pyotp.TOTP(secret)
    totp.enable(user, secret, generator.at(clock.timestamp() - 30))
    db.session.commit()
    return generator


def _totp(client, generator: pyotp.TOTP, response):
    assert response.status_code in (302, 303)
    path = urlsplit(response.headers["Location"]).path
    assert path == "/login/authenticator", path
    page = client.get(path)
    form = {"csrf_token": csrf_token(page), "code": generator.at(clock.timestamp())}
    return client.post(path, data=form)


# -- acr_values (voluntary) ---------------------------------------------------------------


def test_acr_values_step_up_a_one_factor_session_of_a_user_with_an_app(rp, teacher, client):
    rp.sign_in("teacher@example.org")  # one factor
    generator = _enrol(teacher)
    page = rp.follow(rp.authorize(acr_values="2"))
    assert not isinstance(page, Callback), "asked to sign in again, with the app"
    callback = rp.follow(_totp(client, generator, rp.submit_login(page, "teacher@example.org")))
    assert isinstance(callback, Callback) and "code" in callback.params
    assert rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])["acr"] == "2"
    # Now at "2": the next request asking for it gets a code at once.
    again = rp.follow(rp.authorize(acr_values="2"))
    assert isinstance(again, Callback) and "code" in again.params


def test_acr_values_are_voluntary_without_an_app_or_under_prompt_none(rp, teacher):
    tokens = rp.tokens("teacher@example.org", acr_values="2")
    assert rp.verify_id_token(tokens["id_token"])["acr"] == "1"
    _enrol(teacher)
    # prompt=none cannot ask: the level reached, not an error.
    silent = rp.follow(rp.authorize(acr_values="2", prompt="none"))
    assert isinstance(silent, Callback) and "code" in silent.params
    assert rp.verify_id_token(rp.exchange(silent.code).get_json()["id_token"])["acr"] == "1"
    # A session already at a level asked for is enough, whatever its order of preference.
    listed = rp.follow(rp.authorize(acr_values="2 1"))
    assert isinstance(listed, Callback) and "code" in listed.params
