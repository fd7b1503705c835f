"""Secrets at rest and in logs (ASVS 5.0 V11.4, V13.3, V16.2.5; RFC 9700 §4.14): the database
holds no client secret, code, token, password, verification or recovery code in the clear;
signing keys are files only their owner reads; the logs, the access log included, never show
a secret the test used."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pyotp
from gunicorn.config import Config
from sqlalchemy import select

from idp import clock
from idp.access_log import RedactingLogger
from idp.domain import totp
from idp.extensions import db
from tests.factories import PASSWORD
from tests.journeys import sign_in, submit
from tests.mailbox import code_in, links_in
from tests.oidc_helpers import RelyingParty


def _database_dump() -> str:
    rows = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            rows.append(repr(tuple(row)))
    return "\n".join(rows)


def test_no_secret_is_stored_or_logged_in_the_clear(
    client, app, make, mailbox, make_app, overrides, caplog
):
    caplog.set_level(logging.DEBUG)
    jane = make.user("jane@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    registered = make.client(api_scopes=("users.read",))
    rp = RelyingParty(app.test_client(), registered)
    callback = rp.sign_in("jane@example.org")
    tokens = rp.exchange(callback.code).get_json()
    service = rp.http.post(
        "/token", **rp._auth({"grant_type": "client_credentials"}, "basic")
    ).get_json()

    # An emailed code (a new device asks for one) and a reset link.
    overrides["AUTH"] = {**overrides["AUTH"], "NEW_DEVICE_VERIFICATION": "always"}
    strict = make_app(overrides).test_client()
    sign_in(strict, "jane@example.org")
    email_code = code_in(mailbox.wait_for("jane@example.org", "verification code"))
    submit(client, "/password/forgot", {"email": "jane@example.org"})
    reset_link = next(
        u
        for u in links_in(mailbox.wait_for("jane@example.org", "Reset your"))
        if "/password/reset/" in u
    )
    reset_token = reset_link.rsplit("/", 1)[1]

    # An authenticator and its recovery codes.
    seed = totp.new_secret()
    recovery = totp.enable(jane, seed, pyotp.TOTP(seed).at(clock.timestamp()))
    db.session.commit()

    secrets = {
        "client secret": registered.secret,
        "password": PASSWORD,
        "authorization code": callback.code,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "client_credentials token": service["access_token"],
        "emailed code": email_code,
        "reset token": reset_token,
        "TOTP seed": seed,
        **{f"recovery code {n}": code for n, code in enumerate(recovery)},
    }
    dump = _database_dump()
    for name, value in secrets.items():
        assert value not in dump, f"{name} is stored in the clear"
        assert value.replace("-", "") not in dump, f"{name} is stored in the clear"
    # Everything logged in the process but the test's own SMTP server (which receives mail).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    for name, value in secrets.items():
        assert value not in logged, f"{name} appears in the logs"


def test_signing_keys_are_readable_by_their_owner_only(app):
    keys = Path(app.extensions["idp.settings"].oidc.keys_dir)
    files = list(keys.glob("*.pem"))
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_access_log_redacts_codes_tokens_and_reset_links():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/password/reset/SECRET-RESET-TOKEN?x=1",
        "PATH_INFO": "/password/reset/SECRET-RESET-TOKEN",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_REFERER": "https://rp.example.org/callback?code=SECRET-CODE&state=SECRET-STATE",
    }
    response = SimpleNamespace(
        status="200 OK", headers=[("Set-Cookie", "s=SECRET-COOKIE")], sent=10
    )
    request = SimpleNamespace(headers=[("Authorization", "Basic SECRET-BASIC")])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    for secret in ("SECRET-RESET-TOKEN", "SECRET-CODE", "SECRET-STATE"):
        assert secret not in line and secret not in repr(atoms)
    assert "SECRET-COOKIE" not in repr(atoms) and "SECRET-BASIC" not in repr(atoms)
    assert "/password/reset/[redacted]" in line

    environ.update(
        RAW_URI="/login/with/google/callback?code=SECRET-CODE&state=SECRET-STATE&iss=x",
        PATH_INFO="/login/with/google/callback",
        QUERY_STRING="code=SECRET-CODE&state=SECRET-STATE&iss=x",
    )
    line = logger.cfg.access_log_format % logger.atoms(
        response, request, environ, timedelta(milliseconds=3)
    )
    assert "SECRET" not in line and "iss=x" in line
