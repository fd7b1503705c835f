"""A passkey as the step after a password: the other ways out of it (a recovery code, the
authenticator app) still work, and nothing opens before one of them is done."""

from __future__ import annotations

import pyotp
import pytest

from idp import clock
from idp.domain import totp
from idp.extensions import db
from tests.journeys import location, page_text, sign_in, submit
from tests.web.test_passkeys import signed_in_with_passkey


@pytest.fixture
def overrides(overrides):
    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "new_device"
    return overrides


def test_a_recovery_code_still_works_after_the_password(app, client, make, mailbox):
    user, _phone = signed_in_with_passkey(make, mailbox, client)
    # The codes were shown once, when the passkey was added; here, a fresh set of them.
    codes = totp.new_recovery_codes(user)
    db.session.commit()
    browser = app.test_client()
    assert location(sign_in(browser, "pat@example.org")) == "/login/passkey-step"
    step = page_text(browser.get("/login/passkey-step"))
    assert "Use a recovery code" in step
    assert "Use your authenticator app instead" not in step  # none set up
    moved = browser.get("/login/passkey-step?method=recovery")
    assert location(moved) == "/login/authenticator?method=recovery"
    assert browser.get("/").status_code == 302  # still not signed in
    page = "/login/authenticator?method=recovery"
    done = submit(browser, "/login/authenticator", {"method": "recovery", "code": codes[0]}, page)
    assert location(done) == "/"
    assert browser.get("/").status_code == 200


def test_the_authenticator_app_still_works_after_the_password(app, client, make, mailbox):
    user, _phone = signed_in_with_passkey(make, mailbox, client)
    secret = totp.new_secret()
    generator = pyotp.TOTP(secret)
    totp.enable(user, secret, generator.at(clock.timestamp() - 30))
    db.session.commit()
    browser = app.test_client()
    assert location(sign_in(browser, "pat@example.org")) == "/login/passkey-step"
    assert "Use your authenticator app instead" in page_text(browser.get("/login/passkey-step"))
    assert location(browser.get("/login/passkey-step?method=app")) == "/login/authenticator"
    done = submit(browser, "/login/authenticator", {"code": generator.at(clock.timestamp())})
    assert location(done) == "/"
