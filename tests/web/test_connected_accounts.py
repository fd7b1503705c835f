"""Connected accounts against real upstreams on loopback: a second instance of this provider
stands in for Google (discovery, PKCE, a signed ID token checked against its JWKS), a small
stand-in for Facebook's OAuth 2.0 and Graph API, and a server that never answers."""

from __future__ import annotations

import re

import pyotp
import pytest
import requests

from idp import clock
from idp.domain import audit, connected, totp
from idp.extensions import db
from idp.models import ConnectedAccount
from tests.factories import PASSWORD
from tests.journeys import location, page_text, sign_in, submit
from tests.oidc_helpers import RelyingParty, csrf_token
from tests.upstreams import OUR_ISSUER, facebook, openid_upstream, silent_server

pytestmark = pytest.mark.slow

GOOGLE_PEOPLE = [
    ("donald.google@example.com", "Donald", "Duck"),
    # Someone at "Google" claiming the address of a My Cambridge account that is not theirs.
    ("donald@example.org", "Not", "Donald"),
    ("stranger@example.com", "Sam", "Stranger"),
]


@pytest.fixture(scope="module")
def google(tmp_path_factory):
    with openid_upstream(tmp_path_factory.mktemp("google"), "google", GOOGLE_PEOPLE) as up:
        yield up


@pytest.fixture(scope="module")
def fb():
    with facebook() as served:
        yield served


@pytest.fixture(scope="module")
def silent():
    with silent_server() as url:
        yield url


@pytest.fixture
def overrides(base_overrides, google, fb, silent):
    base, _ = fb
    settings = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base_overrides.items()}
    settings["UPSTREAM"] = [
        {
            "key": "google",
            "name": "Google",
            "kind": "oidc",
            "issuer": google.issuer,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
            "timeout": 5.0,
        },
        {
            "key": "facebook",
            "name": "Facebook",
            "kind": "facebook",
            "authorize_url": f"{base}/dialog/oauth",
            "token_url": f"{base}/oauth/access_token",
            "userinfo_url": f"{base}/me?fields=id,name,email",
            "client_id": "fb-app-id",
            "client_secret": "fb-app-secret",
        },
        {
            "key": "slow",
            "name": "Slow",
            "kind": "oidc",
            "issuer": silent,
            "client_id": "x",
            "client_secret": "y",
            "timeout": 0.5,
        },
    ]
    return settings


@pytest.fixture
def donald(make):
    org = make.org("AA101")
    return make.user(
        "donald@example.org",
        given_name="Donald",
        family_name="Duck",
        org=org,
        roles=("sfa.teacher",),
    )


@pytest.fixture
def browser():
    """The person's browser at the upstream."""
    with requests.Session() as session:
        yield session


def _connect(client, key: str, **form: str):
    return submit(client, f"/account/connected/{key}/connect", form, page_url="/account/connected")


def _link_google(client, google, browser, email="donald.google@example.com"):
    assert location(sign_in(client, "donald@example.org")) == "/"
    redirect = _connect(client, "google")
    back = google.sign_in(browser, location(redirect), email)
    return client.get(back)


def test_connect_google_then_sign_in_with_it(client, app, google, browser, donald, mailbox, make):
    done = _link_google(client, google, browser)
    assert location(done) == "/account/connected"
    page = page_text(client.get("/account/connected"))
    assert "Google is connected" in page and "donald.google@example.com" in page
    mailbox.wait_for("donald@example.org", "Google was connected to your My Cambridge account")

    # A relying party sends a new browser here; it signs in with Google (already signed in
    # there), and the ID token says how: "fed".
    rp = RelyingParty(app.test_client(), make.client())
    login = rp.authorize()
    form = {"csrf_token": csrf_token(login), "ix": _ix(login)}
    to_google = rp.http.post("/login/with/google", data=form)
    back = google.sign_in(browser, location(to_google), "donald.google@example.com")
    callback = rp.follow(rp.http.get(back))
    tokens = rp.exchange(callback.code).get_json()
    claims = rp.verify_id_token(tokens["id_token"], nonce=rp.last.nonce)
    assert claims["sub"] == donald.sub and claims["amr"] == ["fed"] and claims["acr"] == "1"
    assert connected.connections(donald)["google"].last_used_at is not None


def _ix(page) -> str:
    return re.search(r'name="ix" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_an_unconnected_google_account_with_my_address_cannot_take_over(
    client, app, google, browser, donald
):
    """The takeover attempt: the upstream says its account has Donald's (verified) address,
    but it is connected to nothing. Nobody is signed in; the page says to use the password."""
    login = client.get("/login")
    response = client.post("/login/with/google", data={"csrf_token": csrf_token(login)})
    back = google.sign_in(browser, location(response), "donald@example.org")
    refused = client.get(back)
    assert refused.status_code == 403
    text = page_text(refused)
    assert "No My Cambridge account is connected to this Google account" in text
    assert "Sign in with its email address and password, then connect Google" in text
    assert location(client.get("/account/")).startswith("/login")
    assert db.session.scalar(db.select(db.func.count(ConnectedAccount.id))) == 0


def test_a_stranger_is_never_given_an_account(client, google, browser, donald):
    login = client.get("/login")
    response = client.post("/login/with/google", data={"csrf_token": csrf_token(login)})
    refused = client.get(google.sign_in(browser, location(response), "stranger@example.com"))
    text = page_text(refused)
    assert refused.status_code == 403 and "create an account" in text
    assert "already exists" not in text


def test_tampered_state_and_replayed_code_are_refused(client, google, browser, donald):
    assert location(sign_in(client, "donald@example.org")) == "/"
    redirect = _connect(client, "google")
    back = google.sign_in(browser, location(redirect), "donald.google@example.com")
    tampered = back.replace("state=", "state=x")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "does not belong to a sign-in started in this browser" in page_text(response)
    assert connected.connections(donald) == {}

    # A fresh start, used once and then replayed.
    redirect = _connect(client, "google")
    back = google.sign_in(browser, location(redirect), "donald.google@example.com")
    assert location(client.get(back)) == "/account/connected"
    replayed = client.get(back)
    assert replayed.status_code == 400
    assert list(connected.connections(donald)) == ["google"]

    # The spent code slipped into a new, genuine flow: Google itself refuses it.
    submit(client, "/account/connected/google/disconnect", {}, page_url="/account/connected")
    fresh_state = re.search(r"state=([^&]+)", location(_connect(client, "google"))).group(1)
    old_code = re.search(r"code=([^&]+)", back).group(1)
    injected = client.get(f"/login/with/google/callback?code={old_code}&state={fresh_state}")
    assert injected.status_code == 400
    assert "Google refused the sign-in (invalid_grant)" in page_text(injected)
    assert connected.connections(donald) == {}


def test_denied_consent_leaves_nothing_half_linked(client, donald):
    assert location(sign_in(client, "donald@example.org")) == "/"
    redirect = _connect(client, "google")
    state = dict(p.split("=", 1) for p in location(redirect).split("?", 1)[1].split("&"))["state"]
    denied = client.get(f"/login/with/google/callback?error=access_denied&state={state}")
    assert denied.status_code == 400
    assert "You did not allow Google to sign you in" in page_text(denied)
    assert connected.connections(donald) == {}


def test_a_silent_upstream_times_out_with_a_clear_message(client, donald):
    assert location(sign_in(client, "donald@example.org")) == "/"
    response = _connect(client, "slow")  # each call upstream waits 0.5 s at most
    assert location(response) == "/account/connected"
    assert "Slow did not answer in time" in page_text(client.get("/account/connected"))


def test_connecting_needs_a_recent_sign_in_or_the_password(client, google, browser, donald):
    assert location(sign_in(client, "donald@example.org")) == "/"
    clock.advance(11 * 60)
    refused = _connect(client, "google")
    assert location(refused) == "/account/connected"
    assert "enter your current password" in page_text(client.get("/account/connected"))
    wrong = _connect(client, "google", current_password="not my password at all")
    assert location(wrong) == "/account/connected"
    allowed = _connect(client, "google", current_password=PASSWORD)
    assert location(allowed).startswith(google.issuer + "/authorize?")


def test_guessing_the_password_to_connect_waits_as_sign_in_does(client, google, browser, donald):
    assert location(sign_in(client, "donald@example.org")) == "/"
    clock.advance(11 * 60)
    for n in range(5):
        _connect(client, "google", current_password=f"guess {n}")
    refused = _connect(client, "google", current_password=PASSWORD)
    assert location(refused) == "/account/connected"
    page = page_text(client.get("/account/connected"))
    assert "Too many wrong passwords. Wait 1 minute, then try again." in page
    failures = audit.stream(audit.Filter(action="sign_in.failed"))
    assert [e["details"]["page"] for e in failures] == ["connected.connect"] * 5
    clock.advance(2.5)
    allowed = _connect(client, "google", current_password=PASSWORD)
    assert location(allowed).startswith(google.issuer + "/authorize?")


def test_a_google_account_connects_to_one_account_only(client, app, google, browser, donald, make):
    assert location(_link_google(client, google, browser)) == "/account/connected"
    other_browser = app.test_client()
    make.user("daisy@example.org", given_name="Daisy")
    assert location(sign_in(other_browser, "daisy@example.org")) == "/"
    redirect = _connect(other_browser, "google")
    back = google.sign_in(browser, location(redirect), "donald.google@example.com")
    assert location(other_browser.get(back)) == "/account/connected"
    page = page_text(other_browser.get("/account/connected"))
    assert "connected to another My Cambridge account" in page


def test_disconnect_then_google_signs_no_one_in(client, app, google, browser, donald, mailbox):
    _link_google(client, google, browser)
    done = submit(client, "/account/connected/google/disconnect", {}, page_url="/account/connected")
    assert location(done) == "/account/connected"
    assert "Google has been disconnected" in page_text(client.get("/account/connected"))
    mailbox.wait_for("donald@example.org", "Google was disconnected")
    events = [e["action"] for e in audit.stream(audit.Filter(action="user.account_"))]
    assert events == ["user.account_connected", "user.account_disconnected"]
    fresh = app.test_client()
    login = fresh.get("/login")
    response = fresh.post("/login/with/google", data={"csrf_token": csrf_token(login)})
    refused = fresh.get(google.sign_in(browser, location(response), "donald.google@example.com"))
    assert refused.status_code == 403


def test_an_authenticator_is_still_asked_for_after_google(client, app, google, browser, donald):
    _link_google(client, google, browser)
    secret = totp.new_secret()
    totp.enable(donald, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    db.session.commit()
    fresh = app.test_client()
    login = fresh.get("/login")
    response = fresh.post("/login/with/google", data={"csrf_token": csrf_token(login)})
    step = fresh.get(google.sign_in(browser, location(response), "donald.google@example.com"))
    assert location(step) == "/login/authenticator"
    clock.advance(30)  # the code used to enable it cannot be used again
    done = submit(
        fresh,
        "/login/authenticator",
        {"code": pyotp.TOTP(secret).at(clock.timestamp())},
    )
    assert location(done) == "/"
    signed_in = list(audit.stream(audit.Filter(action="sign_in.succeeded")))[-1]
    assert signed_in["details"]["amr"] == ["fed", "otp", "mfa"]


def test_facebook_connects_and_signs_in(client, app, fb, donald):
    _, state = fb
    state.profile = {"id": "10001", "name": "Donald Duck", "email": "donald.fb@example.com"}
    assert location(sign_in(client, "donald@example.org")) == "/"
    to_facebook = _connect(client, "facebook")
    back = requests.get(location(to_facebook), allow_redirects=False, timeout=5)
    done = client.get(back.headers["Location"].removeprefix(OUR_ISSUER))
    assert location(done) == "/account/connected"
    assert state.token_requests[-1]["code_verifier"]  # PKCE on the way back
    assert connected.connections(donald)["facebook"].subject == "10001"

    fresh = app.test_client()
    login = fresh.get("/login")
    response = fresh.post("/login/with/facebook", data={"csrf_token": csrf_token(login)})
    back = requests.get(location(response), allow_redirects=False, timeout=5)
    assert location(fresh.get(back.headers["Location"].removeprefix(OUR_ISSUER))) == "/"
    # A replayed Facebook code is refused here (the state is spent) and there.
    assert fresh.get(back.headers["Location"].removeprefix(OUR_ISSUER)).status_code == 400


def test_the_pages_with_provider_buttons_let_their_forms_lead_to_the_providers(
    client, google, fb, silent, donald
):
    """*Sign in with* and *Connect* post here and are answered with a redirect to the
    provider, which browsers check against form-action too."""
    from idp.security import origin

    def form_action(response) -> list[str]:
        csp = response.headers["Content-Security-Policy"]
        return next(d.split()[1:] for d in csp.split(";") if d.split()[0] == "form-action")

    providers = {origin(google.issuer), origin(fb[0]), origin(silent)}
    assert set(form_action(client.get("/login"))) == {"'self'", *providers}
    assert location(sign_in(client, "donald@example.org")) == "/"
    assert set(form_action(client.get("/account/connected"))) == {"'self'", *providers}
    assert form_action(client.get("/account/personal")) == ["'self'"]
