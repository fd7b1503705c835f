"""Account pages: name, password, email addresses, authenticator app, sessions."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest

from idp import clock
from idp.extensions import db
from idp.models import AuthSession, User
from idp.web.device_names import device_name
from tests.factories import PASSWORD
from tests.journeys import error_of, location, page_text, sign_in, submit
from tests.mailbox import code_in, text_of
from tests.oidc_helpers import RelyingParty, csrf_token

NEW_PASSWORD = "lantern orchard velvet"


def _signed_in(client, make, email="jane@example.org", **kwargs):
    user = make.user(email, **kwargs)
    assert location(sign_in(client, email)) == "/"
    return user


def _reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_account_pages_need_a_sign_in(client):
    for path in ("/account/personal", "/account/security", "/account/connected"):
        response = client.get(path)
        assert location(response).startswith("/login?next=%2Faccount%2F")


def test_change_name(client, make):
    user = _signed_in(client, make)
    response = submit(
        client,
        "/account/name",
        {"given_name": " Janet ", "family_name": "Smythe"},
        page_url="/account/personal",
    )
    assert location(response) == "/account/personal"
    assert "Your name has been changed." in page_text(client.get("/account/personal"))
    assert _reload(user).name == "Janet Smythe"
    refused = submit(
        client,
        "/account/name",
        {"given_name": "", "family_name": "Smythe"},
        page_url="/account/personal",
    )
    assert refused.status_code == 400
    assert error_of(refused) == "Enter the first or given name."


def test_change_password_needs_the_current_one_and_signs_out_other_devices(
    client, app, make, mailbox
):
    _signed_in(client, make)
    elsewhere = app.test_client()
    sign_in(elsewhere, "jane@example.org")
    wrong = submit(
        client,
        "/account/password",
        {"current_password": "nope", "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert error_of(wrong) == "Your current password is not correct."
    response = submit(
        client,
        "/account/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert location(response) == "/account/personal"
    assert "signed out on 1 other device" in page_text(client.get("/account/personal"))
    assert client.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    mailbox.wait_for("jane@example.org", "Your My Cambridge password was changed")
    assert location(sign_in(app.test_client(), "jane@example.org", NEW_PASSWORD)) == "/"


def test_add_verify_make_primary_and_remove_an_email_address(client, app, make, mailbox):
    user = _signed_in(client, make)
    response = submit(
        client,
        "/account/emails/add",
        {"email": "Jane.Home@Example.net", "current_password": PASSWORD},
        page_url="/account/personal",
    )
    assert location(response) == "/account/emails/verify"
    assert "We have sent a 6-digit code to <strong>jane.home@example.net" in page_text(
        client.get("/account/emails/verify")
    )
    code = code_in(mailbox.wait_for("jane.home@example.net", "verification code"))
    assert location(submit(client, "/account/emails/verify", {"code": code})) == (
        "/account/personal"
    )
    page = page_text(client.get("/account/personal"))
    assert "jane.home@example.net has been added to your account." in page
    # The added address signs in.
    assert location(sign_in(app.test_client(), "jane.home@example.net")) == "/"

    # Making it primary is confirmed by a code sent to the current primary address.
    response = submit(
        client,
        "/account/emails/primary",
        {"email": "jane.home@example.net"},
        page_url="/account/personal",
    )
    assert location(response) == "/account/emails/verify"
    code = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    assert mailbox.to("jane.home@example.net")[-1]["Subject"].startswith(code) is False
    submit(client, "/account/emails/verify", {"code": code})
    assert _reload(user).email == "jane.home@example.net"
    notice = mailbox.wait_for("jane@example.org", "Your My Cambridge email address was changed")
    assert "from jane@example.org to jane.home@example.net" in " ".join(text_of(notice).split())
    mailbox.wait_for("jane.home@example.net", "Your My Cambridge email address was changed")

    # The primary cannot be removed; the old one can.
    submit(
        client,
        "/account/emails/remove",
        {"email": "jane.home@example.net"},
        page_url="/account/personal",
    )
    assert "You cannot remove your main email address" in page_text(client.get("/account/personal"))
    submit(
        client,
        "/account/emails/remove",
        {"email": "jane@example.org"},
        page_url="/account/personal",
    )
    assert [e.address for e in _reload(user).emails] == ["jane.home@example.net"]
    refused = sign_in(app.test_client(), "jane@example.org")
    assert error_of(refused) == "Enter a correct email address and password."


def test_adding_an_address_needs_the_current_password(client, make, mailbox):
    _signed_in(client, make)
    response = submit(
        client,
        "/account/emails/add",
        {"email": "new@example.org", "current_password": "not it"},
        page_url="/account/personal",
    )
    assert response.status_code == 400
    assert error_of(response) == "Your current password is not correct."
    assert mailbox.to("new@example.org") == []


def test_adding_an_address_of_another_account_reveals_nothing_and_cannot_succeed(
    client, make, mailbox
):
    make.user("other@example.org")
    _signed_in(client, make)
    response = submit(
        client,
        "/account/emails/add",
        {"email": "other@example.org", "current_password": PASSWORD},
        page_url="/account/personal",
    )
    assert location(response) == "/account/emails/verify"
    page = page_text(client.get("/account/emails/verify"))
    assert "We have sent a 6-digit code to <strong>other@example.org" in page
    notice = mailbox.wait_for("other@example.org", "Someone tried to add your email address")
    assert not re.search(r"\b\d{6}\b", text_of(notice))
    response = submit(client, "/account/emails/verify", {"code": "123456"})
    assert error_of(response).startswith("The code is not correct.")


def _add(client, address):
    return submit(
        client,
        "/account/emails/add",
        {"email": address, "current_password": PASSWORD},
        page_url="/account/personal",
    )


def _jane_and_john(app, make):
    """Two signed-in people; ``taken@example.org`` belongs to a third."""
    for address in ("taken@example.org", "jane@example.org", "john@example.org"):
        make.user(address)
    jane, john = app.test_client(), app.test_client()
    assert location(sign_in(jane, "jane@example.org")) == "/"
    assert location(sign_in(john, "john@example.org")) == "/"
    return jane, john


def _notices(response) -> list[tuple[str, str]]:
    return re.findall(r'class="notice notice--(\w+)" role="status">([^<]*)<', page_text(response))


def _as_seen(app, client, response) -> tuple[object, ...]:
    """All a person learns from an answer: its status, where it leads and what is said there,
    and what it keeps in the browser's session (the keys, and the step it is at)."""
    cookie = response.headers.get("Set-Cookie", "").split(";")[0].partition("=")[2]
    state = app.session_interface.get_signing_serializer(app).loads(cookie) if cookie else {}
    step = state.get("email_change", {}).get("purpose")
    shown = _notices(client.get(location(response)))
    return response.status_code, location(response), shown, sorted(state), step


def test_adding_a_taken_address_answers_like_a_free_one_within_the_minute(app, make, mailbox):
    jane, john = _jane_and_john(app, make)
    first = [_add(jane, "jane.home@example.net"), _add(john, "john.home@example.net")]
    assert _as_seen(app, jane, first[0]) == _as_seen(app, john, first[1])
    # A second address within the minute: the same wait, whoever owns the address.
    free, taken = _add(jane, "nobody@example.org"), _add(john, "taken@example.org")
    assert _as_seen(app, jane, free) == _as_seen(app, john, taken)
    assert location(taken) == "/account/personal"
    # After the minute both go ahead alike.
    clock.advance(61)
    free, taken = _add(jane, "nobody@example.org"), _add(john, "taken@example.org")
    assert _as_seen(app, jane, free) == _as_seen(app, john, taken)
    assert location(taken) == "/account/emails/verify"


def test_asking_for_a_new_code_answers_the_same_for_a_taken_address_and_a_free_one(
    app, make, mailbox
):
    jane, john = _jane_and_john(app, make)
    assert location(_add(jane, "nobody@example.org")) == "/account/emails/verify"
    assert location(_add(john, "taken@example.org")) == "/account/emails/verify"

    def each(step) -> list[object]:
        jane_sees, john_sees = step(jane), step(john)
        assert jane_sees == john_sees
        return john_sees

    def resend(browser):
        answer = submit(browser, "/account/emails/verify", {"action": "resend"})
        error = error_of(answer) if "error-summary__list" in page_text(answer) else None
        return answer.status_code, _notices(answer), error

    soon = each(resend)
    assert soon[2] == "We sent you a code a moment ago. Wait a minute before asking for another."
    clock.advance(61)
    later = each(resend)
    assert later[1:] == (
        [("success", "We have sent you a new code. Codes sent earlier no longer work.")],
        None,
    )
    wrong = each(
        lambda browser: [
            error_of(submit(browser, "/account/emails/verify", {"code": "000000"}))
            for _ in range(5)
        ]
    )
    assert wrong[-1].startswith("Too many wrong codes")


def test_the_owner_of_a_taken_address_is_told_at_most_once_a_minute(app, make, mailbox):
    jane, john = _jane_and_john(app, make)
    assert location(_add(jane, "taken@example.org")) == "/account/emails/verify"
    for _ in range(10):
        submit(jane, "/account/emails/verify", {"action": "resend"})
    # Someone else trying the same address in the same minute adds nothing to the owner's mail.
    assert location(_add(john, "taken@example.org")) == "/account/emails/verify"

    def notices() -> int:
        subject = "Someone tried to add your email address"
        return len([m for m in mailbox.to("taken@example.org") if subject in str(m["Subject"])])

    assert notices() == 1
    clock.advance(61)
    submit(jane, "/account/emails/verify", {"action": "resend"})
    assert notices() == 2
    assert all("code" not in str(m["Subject"]) for m in mailbox.to("taken@example.org"))


def test_set_up_the_authenticator_app_then_sign_in_with_it(client, app, make):
    user = _signed_in(client, make)
    page = client.get("/account/security/authenticator")
    html = page_text(page)
    assert 'src="data:image/svg+xml' in html
    secret = re.search(r'class="secret"><strong>([A-Z2-7 ]+)</strong>', html).group(1)
    generator = pyotp.TOTP(secret.replace(" ", ""))
    bad = client.post(
        "/account/security/authenticator",
        data={"csrf_token": csrf_token(page), "code": "12", "current_password": PASSWORD},
    )
    assert error_of(bad) == "Enter the 6-digit code from your authenticator app."
    no_password = client.post(
        "/account/security/authenticator",
        data={"csrf_token": csrf_token(page), "code": generator.at(clock.timestamp())},
    )
    assert error_of(no_password) == "Your current password is not correct."
    assert not _reload(user).has_totp
    page = client.get("/account/security/authenticator")
    secret = re.search(r'class="secret"><strong>([A-Z2-7 ]+)</strong>', page_text(page)).group(1)
    generator = pyotp.TOTP(secret.replace(" ", ""))
    done = client.post(
        "/account/security/authenticator",
        data={
            "csrf_token": csrf_token(page),
            "code": generator.at(clock.timestamp() - 30),
            "current_password": PASSWORD,
        },
    )
    codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", page_text(done))
    assert len(codes) == 10
    assert _reload(user).has_totp
    assert "10 unused recovery codes" in page_text(client.get("/account/security"))

    other = app.test_client()
    assert location(sign_in(other, "jane@example.org")) == "/login/authenticator"
    assert (
        location(submit(other, "/login/authenticator", {"code": generator.at(clock.timestamp())}))
        == "/"
    )


def test_removing_the_authenticator_app_needs_the_password(client, make):
    user = _signed_in(client, make)
    from idp.domain import totp

    secret = totp.new_secret()
    totp.enable(_reload(user), secret, pyotp.TOTP(secret).at(clock.timestamp()))
    db.session.commit()
    submit(
        client,
        "/account/security/authenticator/remove",
        {"current_password": "wrong"},
        page_url="/account/security",
    )
    assert _reload(user).has_totp
    # Its password field and the recovery codes' one are two fields (each label its own),
    # both sent as current_password.
    page = page_text(client.get("/account/security"))
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert page.count('name="current_password"') == 2
    submit(
        client,
        "/account/security/authenticator/remove",
        {"current_password": PASSWORD},
        page_url="/account/security",
    )
    assert not _reload(user).has_totp


def test_sessions_are_listed_and_can_be_ended_one_by_one_or_everywhere(client, app, make):
    make.org()
    _signed_in(client, make)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = IPHONE
    sign_in(phone, "jane@example.org")
    rp = RelyingParty(app.test_client(), make.client())
    tokens = rp.tokens("jane@example.org")
    page = page_text(client.get("/account/security"))
    assert "Safari on iPhone" in page and "This device" in page
    assert "Mozilla" not in page  # names, not the raw strings
    session_ids = re.findall(r'name="session" value="(\d+)"', page)
    assert len(session_ids) == 2  # the two other devices, not this one

    for session_id in session_ids:
        submit(
            client,
            "/account/security/sessions/end",
            {"session": session_id},
            page_url="/account/security",
        )
    assert phone.get("/").status_code == 302
    assert client.get("/").status_code == 200

    response = submit(
        client, "/account/security/sign-out-everywhere", {}, page_url="/account/security"
    )
    assert location(response) == "/login"
    assert client.get("/").status_code == 302
    assert rp.userinfo(tokens["access_token"]).status_code == 401


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
LINUX_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
DEVICE = re.compile(r'<li class="device[^"]*">(.*?)</li>', re.S)
SIGN_OUT = re.compile(r"<button[^>]*>(Sign out.*?)</button>", re.S)


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_each_device_says_what_tells_it_apart_and_its_button_names_it(client, app, make):
    """This device first and marked; every other with its name, when it signed in and when it
    was last active; each sign-out button names its own device, none alike, and none says
    "this device"."""
    make.org()
    clock.freeze()
    start = clock.now()
    later = start + timedelta(minutes=35)
    client.environ_base["HTTP_USER_AGENT"] = LINUX_CHROME
    _signed_in(client, make)
    phones = []
    for _ in range(2):  # two alike, signed in the same minute
        phone = app.test_client()
        phone.environ_base["HTTP_USER_AGENT"] = IPHONE
        sign_in(phone, "jane@example.org")
        phones.append(phone)
    clock.advance((later - start).total_seconds())
    phones[1].get("/")  # in use again; the other phone is not
    client.get("/")

    rows = DEVICE.findall(page_text(client.get("/account/security")))
    assert len(rows) == 3
    this, recent, idle = (_plain(r) for r in rows)
    assert this.startswith("Chrome on Linux This device") and "Last active Now" in this
    assert "Sign out" not in this
    assert recent.startswith("Safari on iPhone") and "Last active" in recent
    assert f"Signed in {start:%-d %b %Y %H:%M} UTC" in recent
    assert f"Last active {later:%-d %b %Y %H:%M} UTC" in recent
    assert idle.startswith("Safari on iPhone") and f"Last active {start:%-d %b %Y %H:%M}" in idle

    # What a screen reader announces: the button's text, the hidden part included.
    names = [
        " ".join(re.sub(r"<[^>]+>", "", SIGN_OUT.search(r).group(1)).split()) for r in rows[1:]
    ]
    assert names[0].startswith("Sign out Safari on iPhone, signed in ")
    assert names[1].startswith("Sign out Safari on iPhone, signed in ")
    assert len(set(names)) == 2, names  # alike devices, still told apart
    assert not any("this device" in n.lower() for n in names)


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64)", "A device running Linux"),
        ("Phone browser 1.0 <script>", "Unknown device"),
        ("", "Unknown device"),
        (None, "Unknown device"),
    ],
)
def test_devices_are_named_by_browser_and_system(app, user_agent, name):
    with app.test_request_context():
        assert device_name(user_agent) == name


def test_device_names_are_translated(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("es"):
        assert device_name(IPHONE) == "Safari en iPhone"


def test_a_session_of_another_user_cannot_be_ended(client, app, make):
    make.user("other@example.org")
    sign_in(app.test_client(), "other@example.org")
    me = _signed_in(client, make)
    target = db.session.scalar(db.select(AuthSession).where(AuthSession.user_id != me.id))
    response = submit(
        client,
        "/account/security/sessions/end",
        {"session": str(target.id)},
        page_url="/account/security",
    )
    assert response.status_code == 404
