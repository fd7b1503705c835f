"""OpenID Connect Back-Channel Logout 1.0: ended sessions reach the relying parties that were
used in them, as logout tokens checked here with PyJWT against the published JWKS."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import jwt
import pytest

from idp.domain import suspensions
from idp.extensions import db
from tests.oidc_helpers import RelyingParty, csrf_token

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver(BaseHTTPRequestHandler):
    """A relying party's back-channel logout endpoint: records what it is sent."""

    received: list[str] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        type(self).received.append(form["logout_token"][0])
        self.send_response(type(self).status)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    Receiver.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/backchannel-logout"
    server.shutdown()
    server.server_close()


def _verify(rp: RelyingParty, token: str) -> dict:
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    jwks = rp.http.get("/jwks.json").get_json()
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"]))
    return jwt.decode(
        token,
        key,
        algorithms=[header["alg"]],
        audience=rp.client_id,
        issuer=rp.issuer,
        options={"require": ["iat", "exp", "jti"]},
    )


def test_signing_out_sends_a_logout_token_to_each_client_used_in_the_session(
    client, make, teacher, receiver
):
    listening = RelyingParty(client, make.client(backchannel_logout_uri=receiver))
    silent = RelyingParty(client, make.client())  # no back-channel URI: nothing to send
    other = make.client(backchannel_logout_uri=receiver)  # never used: nothing to send
    tokens = listening.tokens("teacher@example.org")
    silent.tokens("teacher@example.org")
    sid = listening.verify_id_token(tokens["id_token"])["sid"]

    client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert len(Receiver.received) == 1
    claims = _verify(listening, Receiver.received[0])
    assert (
        claims["sid"] == sid
        and claims["sub"] == listening.verify_id_token(tokens["id_token"])["sub"]
    )
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["exp"] - claims["iat"] <= 120
    assert other.client_id not in str(Receiver.received)


def test_suspension_logs_the_user_out_of_every_service(client, app, make, receiver):
    centre = make.org("AA101")
    officer = make.user("officer@example.org", org=centre, roles=("user_management",))
    teacher = make.user("teacher@example.org", org=centre, roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client(backchannel_logout_uri=receiver))
    rp.tokens("teacher@example.org")
    second = RelyingParty(app.test_client(), rp.registered)
    second.tokens("teacher@example.org")  # another browser, another session
    suspensions.suspend(officer, centre, teacher, make.catalogue)
    db.session.commit()
    sids = {_verify(rp, token)["sid"] for token in Receiver.received}
    assert len(Receiver.received) == 2 and len(sids) == 2


def test_a_failing_receiver_is_retried_a_bounded_number_of_times(client, make, teacher, receiver):
    Receiver.status = 500
    rp = RelyingParty(client, make.client(backchannel_logout_uri=receiver))
    tokens = rp.tokens("teacher@example.org")
    response = client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200  # the sign-out page itself is unaffected
    assert len(Receiver.received) == 3


def test_the_session_is_not_reported_when_the_logout_is_refused(client, make, teacher, receiver):
    rp = RelyingParty(client, make.client(backchannel_logout_uri=receiver))
    rp.tokens("teacher@example.org")
    page = client.get("/logout")  # no hint: a confirmation page first
    assert "csrf_token" in page.get_data(as_text=True)
    client.post("/logout", data={"confirm": "yes"})  # no CSRF token: refused
    assert Receiver.received == []
    client.post("/logout", data={"confirm": "yes", "csrf_token": csrf_token(page)})
    assert len(Receiver.received) == 1
