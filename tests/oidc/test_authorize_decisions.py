"""Each reason the authorization endpoint stops to ask something, on its own: why a sign-in is
needed (``login_reason``), an essential acr the session has not reached (``acr_unmet``), and
consent (``consent_needed``). The request is validated first, so its client and redirect URI
are never missing."""

from __future__ import annotations

import json
from dataclasses import replace

import pyotp
import pytest
from werkzeug.datastructures import MultiDict

from idp import clock
from idp.domain import sessions, totp
from idp.extensions import db
from idp.oidc import authorize
from idp.oidc.interactions import ParkedRequest
from idp.oidc.server import oauth_server


@pytest.fixture
def request_for(app, make):
    def build(registered, **params: str) -> authorize.Authorization:
        query = MultiDict(
            {
                "client_id": registered.client_id,
                "redirect_uri": registered.redirect_uri,
                "response_type": "code",
                "scope": "openid profile",
                "code_challenge": "E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
                **params,
            }
        )
        with app.test_request_context("/authorize"):
            return authorize.validate(query, oauth_server())

    return build


@pytest.fixture
def person(make):
    return make.user("jane@example.org")


def _session(person, amr=("pwd", "otp")):
    return sessions.start(person, list(amr), 3600)


def _parked(auth_session=None, consented=False) -> ParkedRequest:
    return ParkedRequest(
        id="ix",
        params=[],
        authenticated_sid=auth_session.sid if auth_session else None,
        consented_at=clock.now() if consented else None,
    )


def test_a_validated_request_always_has_its_client_and_redirect_uri(request_for, make):
    registered = make.client()
    authz = request_for(registered)
    assert authz.client.client_id == registered.client_id
    assert authz.redirect_uri == registered.redirect_uri
    with pytest.raises(authorize.AuthorizeError) as refused:
        request_for(registered, response_type="token")
    # The error goes back to the client: it carries the trusted request.
    assert refused.value.authorization.redirect_uri == registered.redirect_uri
    with pytest.raises(authorize.AuthorizeError) as shown:
        request_for(registered, redirect_uri="https://elsewhere.example.org/cb")
    assert shown.value.authorization is None and not shown.value.redirect


def test_login_reason_names_each_reason_to_sign_in_again(request_for, make, person):
    registered = make.client()
    plain = request_for(registered)
    current = _session(person)
    assert authorize.login_reason(plain, None, None) == "signed out"
    assert authorize.login_reason(plain, current, None) is None
    again = request_for(registered, prompt="login")
    assert authorize.login_reason(again, current, None) == "prompt=login"
    # Signed in during this very interaction: asking again would loop.
    assert authorize.login_reason(again, current, _parked(current)) is None
    assert authorize.login_reason(again, current, _parked(_session(person))) == "prompt=login"
    clock.advance(61)
    assert authorize.login_reason(request_for(registered, max_age="60"), current, None) == "max_age"
    assert authorize.login_reason(request_for(registered, max_age="600"), current, None) is None
    other = replace(plain, hint_sub="u_someone_else")
    assert authorize.login_reason(other, current, None) == "hint names someone else"
    assert authorize.login_reason(replace(plain, hint_sub=person.sub), current, None) is None


def test_a_higher_acr_asks_for_a_step_up_only_of_someone_who_can(request_for, make, person):
    registered = make.client()
    password_only = _session(person, amr=("pwd",))
    wants_2 = request_for(registered, acr_values="2")
    assert authorize.acr_wanted(wants_2, password_only)
    assert authorize.login_reason(wants_2, password_only, None) is None  # no app: the level reached
    secret = totp.new_secret()
    totp.enable(person, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    assert authorize.login_reason(wants_2, password_only, None) == "step-up"
    assert authorize.login_reason(wants_2, _session(person, amr=("pwd", "otp")), None) is None


def test_acr_unmet_only_for_an_essential_level_not_reached(request_for, make, person):
    registered = make.client()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": ["2"]}}})
    voluntary = json.dumps({"id_token": {"acr": {"values": ["2"]}}})
    password_only, two_factors = _session(person, amr=("pwd",)), _session(person)
    assert authorize.acr_unmet(request_for(registered, claims=essential), password_only)
    assert not authorize.acr_unmet(request_for(registered, claims=essential), two_factors)
    assert not authorize.acr_unmet(request_for(registered, claims=voluntary), password_only)
    assert not authorize.acr_unmet(request_for(registered), password_only)


def test_consent_is_asked_of_third_parties_and_with_prompt_consent(request_for, make, person):
    first_party, third_party = make.client(), make.client(first_party=False)
    assert not authorize.consent_needed(request_for(first_party), person.id, None)
    assert authorize.consent_needed(request_for(first_party, prompt="consent"), person.id, None)
    asked = request_for(third_party)
    assert authorize.consent_needed(asked, person.id, None)
    assert not authorize.consent_needed(asked, person.id, _parked(consented=True))
