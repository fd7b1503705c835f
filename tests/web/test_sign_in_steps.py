"""After the password: an emailed code on a new device, or the authenticator app (TOTP)."""

from __future__ import annotations

import pyotp
import pytest

from idp import clock
from idp.domain import totp
from idp.extensions import db
from tests.journeys import enter_code, error_of, location, page_text, sign_in, submit
from tests.mailbox import code_in
from tests.oidc_helpers import RelyingParty, csrf_token


@pytest.fixture
def overrides(overrides):
    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "new_device"
    return overrides


def test_a_new_device_is_asked_for_an_emailed_code_and_then_remembered(client, app, make, mailbox):
    make.user("jane@example.org")
    assert location(sign_in(client, "jane@example.org")) == "/login/verify"
    assert client.get("/").status_code == 302
    page = page_text(client.get("/login/verify"))
    assert "You are signing in on a device we do not recognise" in page
    assert location(enter_code(client, mailbox, "jane@example.org")) == "/"
    assert client.get("/").status_code == 200

    # The same browser, signed out, signs straight in next time.
    client.post("/logout", data={"confirm": "yes", "csrf_token": _csrf(client)})
    assert location(sign_in(client, "jane@example.org")) == "/"
    # Another browser is a new device.
    assert location(sign_in(app.test_client(), "jane@example.org")) == "/login/verify"


def _csrf(client):
    return csrf_token(client.get("/"))


def test_wrong_expired_and_exhausted_codes_get_clear_errors(client, app, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    code = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = submit(client, "/login/verify", {"code": "12ab"})
    assert error_of(response) == "Enter the 6-digit code from the email."
    response = submit(client, "/login/verify", {"code": wrong})
    assert error_of(response).startswith("The code is not correct.")

    for _ in range(3):
        submit(client, "/login/verify", {"code": wrong})
    response = submit(client, "/login/verify", {"code": wrong})
    assert error_of(response) == "Too many wrong codes. Request a new code."
    # Even the right code is refused now: five wrong tries used it up.
    assert error_of(submit(client, "/login/verify", {"code": code})) == (
        "Too many wrong codes. Request a new code."
    )

    clock.advance(61)
    response = submit(client, "/login/verify", {"action": "resend"})
    assert "We have sent you a new code" in page_text(response)
    fresh = code_in(mailbox.wait_for("jane@example.org", "verification code", count=2))
    clock.advance(app.extensions["idp.settings"].auth.code_ttl + 1)
    assert error_of(submit(client, "/login/verify", {"code": fresh})) == (
        "The code has expired. Request a new code."
    )


def test_resend_is_throttled_and_a_new_code_retires_the_old(client, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    first = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    response = submit(client, "/login/verify", {"action": "resend"})
    assert "Wait a minute" in error_of(response)
    clock.advance(61)
    submit(client, "/login/verify", {"action": "resend"})
    second = code_in(mailbox.wait_for("jane@example.org", "verification code", count=2))
    if first != second:
        assert error_of(submit(client, "/login/verify", {"code": first})).startswith(
            "The code is not correct."
        )
    assert location(submit(client, "/login/verify", {"code": second})) == "/"


def test_a_code_works_once(client, app, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    code = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    assert location(submit(client, "/login/verify", {"code": code})) == "/"
    other = app.test_client()
    sign_in(other, "jane@example.org")
    response = submit(other, "/login/verify", {"code": code})
    assert response.status_code == 200 and "not correct" in error_of(response)


def _enrol(user) -> pyotp.TOTP:
    secret = totp.new_secret()
    generator = pyotp.TOTP(secret)
    # Enrolled with the code of a minute ago, so the sign-in's code is a later step.
    codes = totp.enable(user, secret, generator.at(clock.timestamp() - 30))
    db.session.commit()
    assert len(codes) == 10
    return generator


def _now_code(generator: pyotp.TOTP) -> str:
    """The app's current code (by the provider's clock, which tests may move)."""
    return generator.at(clock.timestamp())


def _wrong_code(generator: pyotp.TOTP) -> str:
    valid = {generator.at(clock.timestamp() + d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_totp_replaces_the_emailed_code_and_makes_the_sign_in_multi_factor(client, make, mailbox):
    user = make.user("jane@example.org", org=make.org(), roles=("sfa.teacher",))
    generator = _enrol(user)
    rp = RelyingParty(client, make.client())
    response = rp.submit_login(rp.follow(rp.authorize()), "jane@example.org")
    assert location(response) == "/login/authenticator"
    response = submit(client, "/login/authenticator", {"code": _wrong_code(generator)})
    assert error_of(response).startswith("The code is not correct.")
    callback = rp.follow(submit(client, "/login/authenticator", {"code": _now_code(generator)}))
    claims = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "2"
    assert mailbox.to("jane@example.org") == []  # no emailed code when TOTP is set up


def test_a_totp_code_cannot_be_replayed(client, app, make):
    user = make.user("jane@example.org")
    generator = _enrol(user)
    sign_in(client, "jane@example.org")
    code = _now_code(generator)
    assert location(submit(client, "/login/authenticator", {"code": code})) == "/"
    other = app.test_client()
    sign_in(other, "jane@example.org")
    response = submit(other, "/login/authenticator", {"code": code})
    assert "already been used" in error_of(response)


def test_a_recovery_code_signs_in_once(client, app, make):
    user = make.user("jane@example.org")
    secret = totp.new_secret()
    codes = totp.enable(user, secret, pyotp.TOTP(secret).at(clock.timestamp()))
    db.session.commit()
    assert len(set(codes)) == 10
    sign_in(client, "jane@example.org")
    page = client.get("/login/authenticator?method=recovery")
    assert "Use a recovery code" in page_text(page)
    response = submit(
        client,
        "/login/authenticator",
        {"method": "recovery", "code": codes[0].lower()},
        page_url="/login/authenticator?method=recovery",
    )
    assert location(response) == "/"
    other = app.test_client()
    sign_in(other, "jane@example.org")
    response = submit(
        other,
        "/login/authenticator",
        {"method": "recovery", "code": codes[0]},
        page_url="/login/authenticator?method=recovery",
    )
    assert "already been used" in error_of(response)
    assert totp.remaining_recovery_codes(user) == 9


def test_a_pending_sign_in_times_out(client, app, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    code = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    clock.advance(app.extensions["idp.settings"].auth.pending_sign_in_ttl + 1)
    response = client.get("/login/verify")
    assert location(response) == "/login?timeout=1"
    assert "took too long" in page_text(client.get("/login?timeout=1"))
    assert client.post("/login/verify", data={"code": code}).status_code == 400  # no CSRF
    assert client.get("/").status_code == 302


def test_wrong_authenticator_codes_pause_further_tries(client, make):
    user = make.user("jane@example.org")
    generator = _enrol(user)
    sign_in(client, "jane@example.org")
    for _ in range(5):
        response = submit(client, "/login/authenticator", {"code": _wrong_code(generator)})
        assert error_of(response).startswith("The code is not correct.")
    response = submit(client, "/login/authenticator", {"code": _now_code(generator)})
    assert error_of(response).startswith("Too many wrong codes. Wait 15 minutes")
    clock.advance(15 * 60 + 1)
    sign_in(client, "jane@example.org")
    assert location(submit(client, "/login/authenticator", {"code": _now_code(generator)})) == "/"


def test_policy_always_asks_every_time_and_never_asks_never(
    client, make, make_app, overrides, mailbox
):
    make.user("jane@example.org")
    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "always"
    always = make_app(overrides).test_client()
    assert location(sign_in(always, "jane@example.org")) == "/login/verify"
    assert location(enter_code(always, mailbox, "jane@example.org")) == "/"
    always.post("/logout", data={"confirm": "yes", "csrf_token": _csrf(always)})
    assert location(sign_in(always, "jane@example.org")) == "/login/verify"  # remembered or not

    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "never"
    never = make_app(overrides).test_client()
    assert location(sign_in(never, "jane@example.org")) == "/"


def test_a_password_reset_ends_a_sign_in_waiting_at_the_authenticator_step(client, app, make):
    from idp.domain import passwords

    user = make.user("jane@example.org")
    secret = totp.new_secret()
    codes = pyotp.TOTP(secret)
    totp.enable(user, secret, codes.at(clock.timestamp() - 30))
    db.session.commit()
    assert location(sign_in(client, "jane@example.org")) == "/login/authenticator"
    form = csrf_token(client.get("/login/authenticator"))
    passwords.set_password(user, "a brand new password after the reset")
    passwords.sign_out_everywhere(user)
    db.session.commit()
    data = {"csrf_token": form, "code": codes.at(clock.timestamp())}
    assert location(client.post("/login/authenticator", data=data)).startswith("/login?")
    assert location(client.get("/")).startswith("/login")


def test_signing_in_again_at_once_says_the_earlier_code_still_works_not_that_one_was_sent(
    client, make, mailbox
):
    """A sign-in abandoned at the code, then begun again within the minute before another
    code may be sent: none is sent, and the page says when the one that still works was."""
    make.user("jane@example.org")
    first = page_text(client.get(location(sign_in(client, "jane@example.org"))))
    assert "We have sent a 6-digit verification code to" in first
    code = code_in(mailbox.wait_for("jane@example.org", "verification code"))

    clock.advance(40)
    again = page_text(client.get(location(sign_in(client, "jane@example.org"))))
    assert "We have sent" not in again
    assert "We sent a 6-digit verification code to" in again
    assert "40 seconds ago. It still works, so we have not sent another yet." in again
    assert len(mailbox.to("jane@example.org")) == 1  # nothing new was sent
    assert location(submit(client, "/login/verify", {"code": code})) == "/"  # and it works


def test_after_the_earlier_code_a_new_one_is_sent_once_allowed(client, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    clock.advance(40)
    sign_in(client, "jane@example.org")
    clock.advance(21)
    response = submit(client, "/login/verify", {"action": "resend"})
    assert "We have sent you a new code" in page_text(response)
    assert "We have sent a 6-digit verification code to" in page_text(response)
    assert "still works" not in page_text(client.get("/login/verify"))
    fresh = code_in(mailbox.wait_for("jane@example.org", "verification code", count=2))
    assert location(submit(client, "/login/verify", {"code": fresh})) == "/"


def test_a_new_sign_in_after_the_minute_sends_a_new_code(client, make, mailbox):
    make.user("jane@example.org")
    sign_in(client, "jane@example.org")
    mailbox.wait_for("jane@example.org", "verification code")
    clock.advance(61)
    again = page_text(client.get(location(sign_in(client, "jane@example.org"))))
    assert "We have sent a 6-digit verification code to" in again
    mailbox.wait_for("jane@example.org", "verification code", count=2)
