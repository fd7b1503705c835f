"""Dynamic registration (RFC 7591/7592) as an attacker holding an initial access token uses it:
URLs that make the provider request its own network, a front-channel logout URI on someone
else's site, and a name that passes for one of the exam board's own services. Each rule holds
at registration and on update, and the provider checks the address again when it connects."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.domain import registration
from idp.extensions import db
from idp.models import Client
from idp.security import token_hash
from tests.factories import RegisteredClient
from tests.oidc_helpers import Callback, RelyingParty

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GOOD = {
    "client_name": "Revision Planner",
    "redirect_uris": ["https://planner.example.org/callback"],
    "token_endpoint_auth_method": "client_secret_basic",
}
# Addresses inside the provider's network, spelled the ways an attacker would try.
INTERNAL = [
    "http://127.0.0.1:7799/internal-admin",
    "https://127.0.0.1:7799/internal-admin",
    "https://localhost/internal-admin",
    "https://LOCALHOST./internal-admin",
    "https://admin.localhost/internal-admin",
    "https://[::1]:7799/internal-admin",
    "https://[::ffff:127.0.0.1]/internal-admin",
    "https://2130706433/internal-admin",  # 127.0.0.1 as one number
    "https://127.1/internal-admin",
    "https://0.0.0.0/internal-admin",
    "https://[::]/internal-admin",
    "https://10.0.0.5/internal-admin",
    "https://172.16.0.1/internal-admin",
    "https://192.168.1.1/internal-admin",
    "https://100.64.0.1/internal-admin",
    "https://169.254.169.254/latest/meta-data/",  # a cloud's instance metadata
    "https://[fe80::1]/internal-admin",
    "https://[fd00::1]/internal-admin",
    "https://224.0.0.1/internal-admin",
    "https://[ff02::1]/internal-admin",
    "http://keys.planner.example.org/jwks.json",  # public, but not https
]


@pytest.fixture
def initial_token(app, make):
    token, _ = registration.issue_initial_token(
        ttl_seconds=3600, service_keys=["submit_for_assessment"], uses=5, catalogue=make.catalogue
    )
    db.session.commit()
    return token


def _register(client, token: str, body: dict):
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


def _refused(response, words: str) -> bool:
    body = response.get_json()
    return (
        response.status_code == 400
        and body["error"] == "invalid_client_metadata"
        and words in body["error_description"]
    )


def _attacker_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, {**public, "kid": "k1", "alg": "RS256", "use": "sig"}


def _token_request(http, client_id: str, key) -> object:
    """Any code, with an assertion signed by ``key``: the provider looks for the client's keys
    before it looks at the code."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": "http://localhost/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
    }
    assertion = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    return http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "anything",
            "redirect_uri": GOOD["redirect_uris"][0],
            "client_id": client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


# -- URLs the provider requests ---------------------------------------------------------------


@pytest.mark.parametrize(
    "field, extra",
    [
        ("jwks_uri", {"token_endpoint_auth_method": "private_key_jwt"}),
        ("backchannel_logout_uri", {}),
    ],
)
def test_urls_the_provider_requests_cannot_lead_into_its_network(
    client, initial_token, field, extra
):
    for uri in INTERNAL:
        response = _register(client, initial_token, {**GOOD, **extra, field: uri})
        assert _refused(response, field), (uri, response.get_json())
    accepted = _register(
        client, initial_token, {**GOOD, **extra, field: "https://planner.example.org/hook"}
    )
    assert accepted.status_code == 201, accepted.get_json()


def test_an_update_cannot_lead_them_into_its_network_either(client, initial_token):
    body = _register(client, initial_token, GOOD).get_json()
    uri = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    for field, change in (
        ("backchannel_logout_uri", {"backchannel_logout_uri": "http://127.0.0.1:7799/admin"}),
        (
            "jwks_uri",
            {"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://[::1]/k"},
        ),
    ):
        update = {**GOOD, "client_id": body["client_id"], **change}
        assert _refused(client.put(uri, json=update, headers=auth), field)
    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    assert model.backchannel_logout_uri is None


@pytest.fixture
def listener():
    """A port inside the provider's network, counting who connects to it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _connected(server: socket.socket) -> bool:
    server.setblocking(False)
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_a_name_that_now_resolves_to_loopback_is_not_requested(client, initial_token, listener):
    """DNS rebinding: the name resolved to a public address when it was registered and to a
    loopback one now. The provider resolves and checks it when it connects, so it never
    does; the token request fails as for a client without usable keys."""
    key, public = _attacker_key()
    body = _register(
        client,
        initial_token,
        {
            **GOOD,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://keys.planner.example.org/jwks.json",
        },
    ).get_json()
    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    # What the name stands for now (localhost is a name resolved as any other).
    port = listener.getsockname()[1]
    model.extra_metadata = {**model.extra_metadata, "jwks_uri": f"https://localhost:{port}/x"}
    db.session.commit()

    response = _token_request(client, body["client_id"], key)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert not _connected(listener)


def test_a_self_registered_logout_uri_on_loopback_is_not_posted_to(client, make, teacher):
    """A back-channel logout URI stored for a self-registered client (before these rules, or
    by a name that now leads inside) is checked again when the provider posts to it."""
    received: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_port}/internal-admin"
        rp = RelyingParty(client, make.client(backchannel_logout_uri=uri))
        rp.registered.model.registration_token_hash = token_hash("self-registered")
        db.session.commit()
        tokens = rp.tokens("teacher@example.org")
        client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        assert received == []

        # The same URI, registered by an operator, is posted to (the demo's services).
        rp.registered.model.registration_token_hash = None
        db.session.commit()
        tokens = rp.tokens("teacher@example.org")
        client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        assert received == ["/internal-admin"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_development_deployment_may_allow_internal_addresses(
    app, make_app, overrides, initial_token
):
    served: list[str] = []
    key, public = _attacker_key()

    class KeyServer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"keys": [public]}).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), KeyServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        development = make_app(
            {
                **overrides,
                "OIDC": {**overrides["OIDC"], "REGISTRATION_ALLOWS_PRIVATE_ADDRESSES": True},
            }
        ).test_client()
        body = _register(
            development,
            initial_token,
            {
                **GOOD,
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": f"http://127.0.0.1:{server.server_port}/jwks.json",
            },
        ).get_json()
        response = _token_request(development, body["client_id"], key)
        # The client is who it says (its keys were fetched); only the made-up code is wrong.
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
        assert served == ["/jwks.json"]
    finally:
        server.shutdown()
        server.server_close()


# -- the front-channel logout URI -------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/fc",
        "https://planner.example.org:8443/fc",  # another port
        "https://fc.planner.example.org/fc",  # another host, even a sub-domain
    ],
)
def test_the_front_channel_logout_uri_must_be_on_a_redirect_uris_origin(client, initial_token, uri):
    response = _register(client, initial_token, {**GOOD, "frontchannel_logout_uri": uri})
    assert _refused(response, "same origin")
    body = _register(
        client, initial_token, {**GOOD, "frontchannel_logout_uri": "https://planner.example.org/fc"}
    ).get_json()
    update = {**GOOD, "client_id": body["client_id"], "frontchannel_logout_uri": uri}
    manage = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    assert _refused(client.put(manage, json=update, headers=auth), "same origin")


def test_a_stored_front_channel_uri_on_another_origin_is_not_framed(client, make, teacher):
    framed = make.client(redirect_uri="https://planner.example.org/cb")
    framed.model.extra_metadata = {"frontchannel_logout_uri": "https://evil.example/fc"}
    db.session.commit()
    tokens = RelyingParty(client, framed).tokens("teacher@example.org")
    page = client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert "evil.example" not in page.get_data(as_text=True)


def test_operators_cannot_move_redirect_uris_away_from_the_front_channel_uri(app, make):
    from idp.domain import clients
    from idp.errors import InvalidInput

    framed = make.client(redirect_uri="https://planner.example.org/cb")
    framed.model.extra_metadata = {"frontchannel_logout_uri": "https://planner.example.org/fc"}
    with pytest.raises(InvalidInput, match="same origin"):
        clients.update_uris(framed.model, ["https://evil.example/cb"], [], initiate_login_uri=None)


# -- the name on the consent page -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Submit for Assessment",
        "my  cambridge",
        "My-Cambridge",
        "Ｍｙ Ｃａｍｂｒｉｄｇｅ",  # full-width letters
        "Cambridge OCR",
        "OCR Interchange",
    ],
)
def test_a_name_cannot_pass_for_one_of_the_exam_boards_services(client, initial_token, name):
    assert _refused(_register(client, initial_token, {**GOOD, "client_name": name}), "client_name")


@pytest.mark.parametrize(
    "name",
    [
        "Revision Planner\u202e",  # right-to-left override: reverses the rest of the sentence
        "Revision \u2067Planner\u2069",  # an isolate
        "Revision\u200bPlanner",  # zero-width space
        "Revision\u200dPlanner",  # zero-width joiner
        "Revision\x85Planner",  # next line: a control character
        "Revision\x1b[2JPlanner",
    ],
)
def test_a_name_cannot_carry_control_or_format_characters(client, initial_token, name):
    response = _register(client, initial_token, {**GOOD, "client_name": name})
    assert _refused(response, "control or format characters")
    body = _register(client, initial_token, GOOD).get_json()
    update = {**GOOD, "client_id": body["client_id"], "client_name": name}
    manage = body["registration_client_uri"].removeprefix("http://localhost")
    auth = {"Authorization": f"Bearer {body['registration_access_token']}"}
    assert _refused(client.put(manage, json=update, headers=auth), "control or format")


def test_the_consent_page_says_where_a_registered_service_sends_you(client, initial_token, teacher):
    body = _register(client, initial_token, GOOD).get_json()
    model = db.session.scalar(db.select(Client).where(Client.client_id == body["client_id"]))
    rp = RelyingParty(
        client,
        RegisteredClient(
            model,
            body["client_id"],
            body["client_secret"],
            GOOD["redirect_uris"][0],
            "https://planner.example.org/",
        ),
    )
    page = rp.follow(rp.submit_login(rp.follow(rp.authorize()), "teacher@example.org"))
    assert not isinstance(page, Callback)
    html = page.get_data(as_text=True)
    assert "Revision Planner is not one of Cambridge's own services" in html
    host = urlsplit(GOOD["redirect_uris"][0]).hostname
    assert f"you will be taken to <strong>{host}</strong>" in html
