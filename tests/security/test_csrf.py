"""Cross-site request forgery (ASVS 5.0 V3.5.1): every route that changes something, asked
without the form's CSRF token by someone allowed to use it with otherwise good form data, is
refused (400, "Your form expired") and changes nothing. The routes are read from the app's
URL map, so a new one is covered without being named here; only the protocol endpoints below
do without the token, each for its reason."""

from __future__ import annotations

import hashlib
import re
from io import BytesIO
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp import clock
from idp.domain import address_changes, connected, totp
from idp.extensions import db
from idp.models import AuthSession, Consent, EmailAddress, User
from tests import routes
from tests.factories import PASSWORD, Factories
from tests.journeys import address_change_link, location, sign_in, submit, temporary_password
from tests.mailbox import Mailbox, code_in
from tests.oidc_helpers import RelyingParty
from tests.passkeys import ready_for_console

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# By endpoint: callers that are not browsers, or requests a browser may send from anywhere.
EXEMPT = {
    "oidc.authorize": "a relying party's request (RFC 6749 §4.1.1); it grants nothing by itself",
    "oidc.token": "the client authenticates itself (RFC 6749 §3.2); no cookie is used",
    "oidc.revoke": "the client authenticates itself (RFC 7009 §2.1); no cookie is used",
    "oidc.introspect": "the client authenticates itself (RFC 7662 §2.1); no cookie is used",
    "oidc.userinfo": "a bearer access token (RFC 6750), never a cookie",
    "registration.register": "an initial access token (RFC 7591 §3), never a cookie",
    "registration.manage": "a registration access token (RFC 7592 §2), never a cookie",
}
NEW_PASSWORD = "a brand new passphrase for 2025"
# Noted on every signed-in request before the CSRF check, in a transaction of its own
# (sessions.touch), by design: not a change the refused request made.
NOT_A_CHANGE = {("auth_sessions", "last_seen_at")}


def snapshot() -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows, as committed."""
    state = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.c if (table.name, c.name) not in NOT_A_CHANGE]
            rows = sorted(repr(tuple(row)) for row in connection.execute(select(*columns)))
            state[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return state


def _signed_in(app: Flask, email: str, expected: str = "/") -> FlaskClient:
    browser = app.test_client()
    assert location(sign_in(browser, email)) == expected
    return browser


def _console_ready(app: Flask, email: str) -> FlaskClient:
    """A member of staff signed in with the passkey the console needs."""
    browser = app.test_client()
    ready_for_console(browser, email)
    return browser


def _enrol(user: User) -> pyotp.TOTP:
    """An authenticator app, enrolled with the code of a minute ago."""
    secret = totp.new_secret()
    generator = pyotp.TOTP(secret)
    totp.enable(user, secret, generator.at(clock.timestamp() - 30))
    db.session.commit()
    return generator


class Walk:
    """The people (each a browser) who may use the routes, and good form data for each route:
    what the forms would send, but for the token."""

    def __init__(self, app: Flask, make: Factories, mailbox: Mailbox):
        site = routes.build_site(make)
        self.site = site
        member = site.member
        holder = make.client(user_data_uri="http://127.0.0.1:9/user-data")
        asking = make.client(first_party=False)  # its sign-in waits at the consent page
        granted = make.client(first_party=False)
        now = clock.now()
        member.emails.append(
            EmailAddress(
                address="donald.duck@example.org", is_primary=False, verified_at=now, created_at=now
            )
        )
        db.session.add(Consent(user_id=member.id, client_id=granted.client_id, scope="openid"))
        connected.link(member, connected.Identity("fb", "fb-donald"), "Facebook")
        jane = make.user("jane@example.org", org=site.centre, roles=("sfa.teacher",))
        jane_app = _enrol(jane)
        tess = make.user("tess@example.org")
        tess_app = _enrol(tess)
        make.invited("tom@example.org", org=site.centre, roles=("sfa.teacher",))
        make.invited("tina@example.org", org=site.centre, roles=("sfa.teacher",))

        other_device = _signed_in(app, member.email)
        other_session = db.session.scalar(
            select(AuthSession.id).where(AuthSession.user_id == member.id)
        )
        donald = _signed_in(app, member.email)
        adding = submit(
            donald,
            "/account/emails/add",
            {"email": "donald.third@example.org", "current_password": PASSWORD},
            page_url="/account/personal",
        )
        assert location(adding) == "/account/emails/verify"
        added_code = code_in(mailbox.wait_for("donald.third@example.org", "verification code"))
        consent_page = RelyingParty(donald, asking).authorize()
        ix = re.search(r"ix=([^&]+)", location(consent_page))
        assert ix, location(consent_page)

        with_app = _signed_in(app, "jane@example.org", "/login/authenticator")
        answer = submit(with_app, "/login/authenticator", {"code": jane_app.now()})
        assert location(answer) == "/"
        at_app_step = _signed_in(app, "tess@example.org", "/login/authenticator")

        choosing = app.test_client()
        first = temporary_password(mailbox, "tom@example.org")
        assert location(sign_in(choosing, "tom@example.org", first)) == "/login/set-password"
        activating = app.test_client()
        first = temporary_password(mailbox, "tina@example.org")
        assert location(sign_in(activating, "tina@example.org", first)) == "/login/set-password"
        chosen = submit(
            activating,
            "/login/set-password",
            {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        )
        assert location(chosen) == "/login/verify"
        activation_code = code_in(mailbox.wait_for("tina@example.org", "verification code"))
        resetting = app.test_client()
        opened = resetting.get(f"/password/reset/{site.values['token']}")
        assert location(opened) == "/password/reset"
        # A change of Donald's address that the officer asked for, waiting for its link.
        address_changes.request(
            member,
            "donald.next@example.org",
            by=site.officer,
            organisation=site.centre,
            ttl_seconds=3600,
        )
        db.session.commit()
        confirming = app.test_client()
        opened = confirming.get(address_change_link(mailbox, "donald.next@example.org"))
        assert location(opened) == "/email-change/confirm"

        self.browsers = {
            "signed out": app.test_client(),
            "member": donald,
            "member with an authenticator app": with_app,
            "exams officer": _signed_in(app, site.officer.email),
            "operator": _console_ready(app, site.operator.email),
            "at the authenticator step": at_app_step,
            "choosing a first password": choosing,
            "entering an activation code": activating,
            "with a password reset link": resetting,
            "with an address change link": confirming,
        }
        self._keep = other_device
        both = {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
        person = {"given_name": "Ana", "family_name": "Uno", "email": "ana.uno@example.org"}
        yes = {"confirm": "yes"}  # the answer to the question before an action
        self.forms: dict[str, dict[str, Any]] = {
            "account.add_email": {"email": "donald.four@example.org", "current_password": PASSWORD},
            "account.change_name": {"given_name": "Don", "family_name": "Duck"},
            "account.change_password": {"current_password": PASSWORD, **both},
            "account.end_session": {"session": str(other_session)},
            "account.make_primary": {"email": "donald.duck@example.org"},
            "account.new_recovery_codes": {"current_password": PASSWORD},
            "account.remove_email": {"email": "donald.duck@example.org"},
            "account.remove_totp": {"current_password": PASSWORD},
            "account.revoke_app": {"client_id": granted.client_id},
            "account.setup_totp": {"current_password": PASSWORD, "code": "123456"},
            "account.verify_email": {"code": added_code},
            "auth.login": {"email": member.email, "password": PASSWORD},
            "auth.set_password": both,
            "auth.totp_step": {"code": tess_app.now()},
            "auth.verify": {"code": activation_code},
            "connected.connect": {"current_password": PASSWORD},
            "console.person_action": {
                **yes,
                "reason": "Asked by the centre",
                "factor": "totp",
                "identity_check": "called_back",
            },
            "connected.sign_in_with": {"next": "/account/personal"},
            "console.attach_associate": {"associate": "BB102", "reason": "r", **yes},
            "console.create_centre": {
                "code": "CA900",
                "name": "New Centre",
                "brand": "cambridge-international",
                "reason": "r",
                **yes,
            },
            "console.detach_associate": {"reason": "r", **yes},
            "console.name_officer": {**person, "reason": "r", **yes},
            "console.rename_centre": {"name": "Renamed Centre", "reason": "r", **yes},
            "home.change_organisation": {"organisation": routes.CENTRE},
            "oidc.choose_organisation": {"ix": ix.group(1), "organisation": routes.CENTRE},
            "oidc.consent": {"ix": ix.group(1), "decision": "allow"},
            "oidc.end_session": {"confirm": "yes"},
            "operator.api_access": {"api_scopes": "users.read"},
            "operator.client_view": {"redirect_uris": "https://rp.example.org/elsewhere"},
            "operator.new_client": {
                "name": "Results Analysis",
                "redirect_uris": "https://results.example.org/callback",
                "services": "submit_for_assessment",
            },
            "organisation.change_roles": {"roles": "sfa.teacher"},
            "organisation.change_email": {"email": "donald.new@example.org"},
            "organisation.suspend_user": yes,
            "organisation.restore_user": yes,
            "organisation.send_password_reset": yes,
            "organisation.remove_user": yes,
            "organisation.withdraw_invitation": yes,
            "organisation.add_users": {
                "rows": "1",
                **{f"{k}-0": v for k, v in person.items()},
                "roles-0": "sfa.teacher",
                "action": "save",
            },
            "organisation.import_users": {
                "file": (
                    BytesIO(b"Given name,Family name,Email\nAna,Uno,ana@example.org\n"),
                    "a.csv",
                )
            },
            "organisation.transfer_data": {"client_id": holder.client_id, "to": site.officer.sub},
            "password.forgot": {"email": member.email},
            "password.reset": both,
            "password.strength": {"password": NEW_PASSWORD},
            "signup.signup": {**person, **both},
        }
        self.by_endpoint = {
            "account.new_recovery_codes": "member with an authenticator app",
            "account.remove_totp": "member with an authenticator app",
            "auth.set_password": "choosing a first password",
            "auth.totp_step": "at the authenticator step",
            "auth.verify": "entering an activation code",
            "home.change_organisation": "member",
            "joining.accept": "member",
            "joining.decline": "member",
            "oidc.choose_organisation": "member",
            "oidc.consent": "member",
            "oidc.end_session": "member",
            "password.reset": "with a password reset link",
            "address.confirm": "with an address change link",
        }

    def who(self, endpoint: str, rule: str) -> str:
        """Who may use the route: named above, else by where it is."""
        for prefix, person in (
            ("/account", "member"),
            ("/organisation", "exams officer"),
            ("/operator", "operator"),
            ("/console", "operator"),
        ):
            if rule.startswith(prefix):
                return self.by_endpoint.get(endpoint, person)
        return self.by_endpoint.get(endpoint, "signed out")

    def form(self, endpoint: str) -> dict[str, Any]:
        """A fresh copy (a file is read once)."""
        data = dict(self.forms.get(endpoint, {}))
        for name, value in data.items():
            if isinstance(value, tuple):
                data[name] = (BytesIO(value[0].getvalue()), value[1])
        return data


@pytest.fixture
def overrides(overrides):
    overrides["UPSTREAM"] = [routes.UPSTREAM]
    return overrides


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(app, make, mailbox):
    walk = Walk(app, make, mailbox)
    expected = {
        (rule.rule, method)
        for rule in routes.rules(app, STATE_CHANGING)
        for method in STATE_CHANGING & (rule.methods or set())
        if rule.endpoint not in EXEMPT
    }
    walked = set()
    failures = []
    for rule in routes.rules(app, STATE_CHANGING):
        if rule.endpoint in EXEMPT:
            continue
        for method in sorted(STATE_CHANGING & (rule.methods or set())):
            for path in routes.paths(rule, walk.site.values):
                who = walk.who(rule.endpoint, rule.rule)
                before = snapshot()
                response = walk.browsers[who].open(
                    path, method=method, data=walk.form(rule.endpoint)
                )
                refused = response.status_code == 400 and "Your form expired" in response.get_data(
                    as_text=True
                )
                if not refused:
                    failures.append(f"{who}: {method} {path} -> {response.status_code}")
                elif snapshot() != before:
                    failures.append(f"{who}: {method} {path} refused, but something changed")
                walked.add((rule.rule, method))
    assert not failures, "\n".join(failures)
    assert walked == expected, "a route was not walked"
    assert len(walked) > 30


def test_the_exemptions_are_routes_of_the_app(app):
    endpoints = {rule.endpoint for rule in routes.rules(app, STATE_CHANGING)}
    assert set(EXEMPT) <= endpoints
