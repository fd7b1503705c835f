"""Two instances behind one address: two ``idp serve`` processes on their own loopback ports,
sharing the suite's database (PostgreSQL in CI's second run), the signing keys, the secret key
and, when it answers, one Redis for throttling. A browser and a relying party alternate
between them at every step of a sign-in, a refresh and a sign-out; a key rotation made by the
CLI reaches both within the keyring's refresh interval."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.factories import PASSWORD
from tests.mailbox import free_port
from tests.oidc_helpers import s256
from tests.servers import idp_serve, redis_up, server_env

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def instances(_schema, base_overrides, tmp_path_factory) -> Iterator[tuple[str, str]]:
    ports = [free_port(), free_port()]
    issuer = f"http://127.0.0.1:{ports[0]}"  # what the load balancer would answer as
    env = server_env(
        base_overrides["DATABASE_URL"],
        base_overrides["OIDC"]["KEYS_DIR"],
        tmp_path_factory.mktemp("scale-instance"),
        IDP_OIDC__ISSUER=issuer,
        IDP_OIDC__KEYRING_REFRESH="1",
    )
    if redis_up():
        env["IDP_RATE_LIMITS__STORAGE_URI"] = "redis://127.0.0.1:6379/13"
    cwd = Path(base_overrides["INSTANCE_DIR"])
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                idp_serve(
                    env,
                    port,
                    tmp_path_factory.mktemp("scale-log") / "server.log",
                    cwd=cwd,
                    ready_path="/readyz",
                )
            )
            for port in ports
        )
        yield a, b


def test_a_flow_alternating_between_two_instances(instances, make):
    a, b = instances
    make.user("jane@example.org", org=make.org("SO101"), roles=("sfa.teacher",))
    registered = make.client(redirect_uri="http://127.0.0.1:9/callback")
    browser = requests.Session()  # cookies are per host, so both instances see them
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(8)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": registered.client_id,
            "redirect_uri": registered.redirect_uri,
            "scope": "openid profile roles",
            "state": state,
            "nonce": "n-1",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    # A starts the authorization; B takes the password; A resumes and issues the code.
    login = browser.get(f"{a}/authorize?{query}", timeout=5)
    form = {
        "csrf_token": CSRF.search(login.text).group(1),
        "ix": re.search(r'name="ix" value="([^"]+)"', login.text).group(1),
        "email": "jane@example.org",
        "password": PASSWORD,
    }
    response = browser.post(f"{b}/login", data=form, allow_redirects=False, timeout=5)
    location = response.headers["Location"]
    hops = 0
    while not location.startswith(registered.redirect_uri):
        base = (a, b)[hops % 2]
        path = location.removeprefix(a)
        response = browser.get(base + path, allow_redirects=False, timeout=5)
        location = response.headers["Location"]
        hops += 1
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]

    # B redeems the code; A refreshes; B answers userinfo and checks the ID token's keys.
    auth = (registered.client_id, registered.secret)
    tokens = requests.post(
        f"{b}/token",
        auth=auth,
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": registered.redirect_uri,
            "code_verifier": verifier,
        },
        timeout=5,
    ).json()
    keys = jwt.PyJWKClient(f"{b}/jwks.json")
    claims = jwt.decode(
        tokens["id_token"],
        keys.get_signing_key_from_jwt(tokens["id_token"]).key,
        algorithms=["RS256", "ES256"],
        audience=registered.client_id,
        issuer=a,
    )
    assert claims["roles"] == ["sfa.teacher"]
    refreshed = requests.post(
        f"{a}/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=5,
    ).json()
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert requests.get(f"{b}/userinfo", headers=bearer, timeout=5).json()["sub"] == claims["sub"]
    # The rotated refresh token, replayed at B, is caught: the family is revoked everywhere.
    replay = requests.post(
        f"{b}/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=5,
    )
    assert replay.json()["error"] == "invalid_grant"
    assert requests.get(f"{a}/userinfo", headers=bearer, timeout=5).status_code == 401

    # Signing out at A ends the session B sees.
    home = browser.get(f"{b}/", allow_redirects=False, timeout=5)
    assert home.status_code == 200
    confirm = browser.get(f"{a}/logout", timeout=5)
    browser.post(
        f"{a}/logout",
        data={"csrf_token": CSRF.search(confirm.text).group(1), "confirm": "yes"},
        timeout=5,
    )
    assert browser.get(f"{b}/", allow_redirects=False, timeout=5).status_code == 302


def test_a_key_rotation_reaches_both_instances(instances, base_overrides):
    a, b = instances
    before = {k["kid"] for k in requests.get(f"{a}/jwks.json", timeout=5).json()["keys"]}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_SECRET_KEY": secrets.token_urlsafe(40),
        "IDP_DATABASE_URL": base_overrides["DATABASE_URL"],
        "IDP_OIDC__KEYS_DIR": base_overrides["OIDC"]["KEYS_DIR"],
        "IDP_TESTING": "true",
    }
    subprocess.run(
        [sys.executable, "-m", "idp.cli", "keys", "rotate"],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    for base in (a, b):
        while True:
            kids = {k["kid"] for k in requests.get(f"{base}/jwks.json", timeout=5).json()["keys"]}
            if kids - before:
                break
            assert time.monotonic() < deadline, f"{base} did not see the new key"
            time.sleep(0.3)
