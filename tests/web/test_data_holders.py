"""Before a person is deleted, every service that holds people's data is asked, with a request
the provider signs, whether it holds theirs; what it holds must be transferred first. Here the
service is a stand-in on a loopback port that checks the request with PyJWT against the JWKS
the provider publishes."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import jwt
import pytest

from idp.domain import clients, management, organisations, suspensions
from idp.extensions import db
from idp.models import UserOrigin
from tests.journeys import location, page_text, sign_in
from tests.mailbox import free_port
from tests.oidc_helpers import csrf_token


class Holder(BaseHTTPRequestHandler):
    """A data-holding service: Tess holds three records until they are transferred."""

    jwks: dict = {}
    client_id = ""
    requests: list[dict] = []
    holdings: dict[str, int] = {}
    refuse: str | None = None
    answer_raw: bytes | None = None

    def do_POST(self) -> None:  # noqa: N802
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        token = form["request"][0]
        header = jwt.get_unverified_header(token)
        key = jwt.PyJWK(next(k for k in type(self).jwks["keys"] if k["kid"] == header["kid"]))
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=type(self).client_id,
            issuer="http://localhost",
            options={"require": ["iat", "exp", "jti", "sub"]},
        )
        type(self).requests.append({"header": header, **claims})
        if type(self).answer_raw is not None:
            return self._send(200, type(self).answer_raw)
        held = type(self).holdings.get(claims["sub"], 0)
        if claims["action"] == "query":
            body = {"holds_data": bool(held), "summary": f"{held} records" if held else ""}
            return self._send(200, json.dumps(body).encode())
        if type(self).refuse:
            body = {"error": "transfer_refused", "error_description": type(self).refuse}
            return self._send(409, json.dumps(body).encode())
        to = claims["transfer_to"]
        type(self).holdings[to] = type(self).holdings.get(to, 0) + type(self).holdings.pop(
            claims["sub"], 0
        )
        return self._send(200, b'{"transferred": true}')

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def centre(make):
    aa101 = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(aa101)
    return aa101


@pytest.fixture
def tess(make, centre, app):
    """A teacher who belongs only to AA101, invited there and since suspended."""
    person = make.invited("tess@example.org", given_name="Tess", org=centre, roles=("sfa.teacher",))
    person.origin = UserOrigin.INVITATION  # as an officer's Add user makes it: deletable
    officer = management.member(centre, centre.exams_officer.sub)[0]
    suspensions.suspend(officer, centre, person, app.extensions["idp.settings"].catalogue)
    db.session.commit()
    return person


@pytest.fixture
def terry(make, centre):
    return make.user("terry@example.org", given_name="Terry", org=centre, roles=("sfa.teacher",))


@pytest.fixture
def holder(client, make):
    server = HTTPServer(("127.0.0.1", 0), Holder)
    registered = make.client(
        name="Progression Tests", user_data_uri=f"http://127.0.0.1:{server.server_port}/data"
    )
    Holder.jwks = client.get("/jwks.json").get_json()
    Holder.client_id = registered.client_id
    Holder.requests, Holder.holdings, Holder.refuse, Holder.answer_raw = [], {}, None, None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield registered
    server.shutdown()
    server.server_close()


@pytest.fixture
def officer(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _post(browser, url: str, data: dict[str, str], page: str):
    """Post the form as the question's Yes does (a transfer is asked about first)."""
    return browser.post(
        url, data={"csrf_token": csrf_token(browser.get(page)), "confirm": "yes", **data}
    )


def test_the_request_is_signed_for_the_service_alone(officer, holder, tess):
    Holder.holdings = {tess.sub: 3}
    page = page_text(officer.get(f"/organisation/AA101/users/{tess.sub}/delete"))
    assert "Progression Tests</strong>:" in page and "(3 records)" in page
    (asked,) = Holder.requests
    assert asked["header"]["typ"] == "user-data+jwt"
    assert asked["action"] == "query" and asked["sub"] == tess.sub and asked["org"] == "AA101"
    assert asked["exp"] - asked["iat"] == 120


def test_delete_waits_for_the_transfer(officer, holder, tess, terry, centre):
    Holder.holdings = {tess.sub: 3}
    base = f"/organisation/AA101/users/{tess.sub}"
    page = page_text(officer.get(f"{base}/delete"))
    assert "Yes, delete Tess Teacher</button>" not in page and "Transfer data" in page
    refused = _post(officer, f"{base}/delete", {"confirm": "yes"}, f"{base}/delete")
    assert location(refused) == f"{base}/delete"
    assert officer.get(base).status_code == 200  # still there

    # The transfer is asked about first: the first post moves nothing and names both people.
    asked = officer.post(
        f"{base}/transfer",
        data={
            "csrf_token": csrf_token(officer.get(f"{base}/delete")),
            "client_id": holder.client_id,
            "to": terry.sub,
        },
    )
    question = page_text(asked)
    assert asked.status_code == 200 and "Transfer the data of Tess Teacher to Terry" in question
    assert 'name="confirm" value="yes"' in question and f'value="{terry.sub}"' in question
    assert Holder.holdings == {tess.sub: 3}
    assert all(r["action"] == "query" for r in Holder.requests)

    moved = _post(
        officer,
        f"{base}/transfer",
        {"client_id": holder.client_id, "to": terry.sub},
        f"{base}/delete",
    )
    assert location(moved) == f"{base}/delete"
    assert Holder.holdings == {terry.sub: 3}
    transfer = Holder.requests[-1]
    assert transfer["action"] == "transfer" and transfer["transfer_to"] == terry.sub
    page = page_text(officer.get(f"{base}/delete"))
    assert "has transferred the data of Tess" in page and "holds no data of Tess" in page

    deleted = _post(officer, f"{base}/delete", {"confirm": "yes"}, f"{base}/delete")
    assert location(deleted) == "/organisation/AA101/users"
    assert officer.get(base).status_code == 404
    audit = page_text(officer.get("/organisation/AA101/audit"))
    assert "Data transferred" in audit and "Account deleted" in audit


def test_a_refused_transfer_says_why_and_records_nothing(officer, holder, tess, terry):
    Holder.holdings = {tess.sub: 1}
    Holder.refuse = "Terry does not teach this syllabus"
    base = f"/organisation/AA101/users/{tess.sub}"
    _post(officer, f"{base}/transfer", {"client_id": holder.client_id, "to": terry.sub}, base)
    page = page_text(officer.get(f"{base}/delete"))
    assert "did not transfer the data: Terry does not teach this syllabus" in page
    assert "Data transferred" not in page_text(officer.get("/organisation/AA101/audit"))


def test_bad_recipients_and_unknown_services_are_refused(officer, holder, tess, make, centre):
    Holder.holdings = {tess.sub: 1}
    base = f"/organisation/AA101/users/{tess.sub}"
    stranger = make.user("stranger@example.org", org=make.org("AA102"), roles=("sfa.teacher",))
    for to in (tess.sub, stranger.sub, ""):
        _post(officer, f"{base}/transfer", {"client_id": holder.client_id, "to": to}, base)
        assert "Choose" in page_text(officer.get(f"{base}/delete"))
    assert all(r["action"] == "query" for r in Holder.requests)
    other = make.client()  # holds no data: not a holder
    response = _post(officer, f"{base}/transfer", {"client_id": other.client_id, "to": ""}, base)
    assert response.status_code == 404


def test_a_confused_or_unreachable_service_blocks_deletion(officer, holder, tess):
    base = f"/organisation/AA101/users/{tess.sub}"
    Holder.answer_raw = b"[1, 2]"  # not the answer asked for
    page = page_text(officer.get(f"{base}/delete"))
    assert "could not be asked whether it holds data of Tess" in page
    assert "Yes, delete Tess Teacher</button>" not in page

    clients.set_user_data_uri(clients.get(holder.client_id), f"http://127.0.0.1:{free_port()}/")
    db.session.commit()
    page = page_text(officer.get(f"{base}/delete"))
    assert "could not be asked whether it holds data of Tess" in page
    refused = _post(officer, f"{base}/delete", {"confirm": "yes"}, f"{base}/delete")
    assert location(refused) == f"{base}/delete"
    assert officer.get(base).status_code == 200


def test_a_disabled_service_is_still_asked(officer, holder, tess):
    """Switched off for sign-in (for maintenance, say), a service may still hold what people
    made there: it is asked like any other, and blocks while it holds data or cannot answer."""
    clients.set_disabled(clients.get(holder.client_id), True)
    db.session.commit()
    Holder.holdings = {tess.sub: 2}
    base = f"/organisation/AA101/users/{tess.sub}"
    page = page_text(officer.get(f"{base}/delete"))
    assert "Progression Tests</strong>:" in page and "(2 records)" in page
    assert "Yes, delete Tess Teacher</button>" not in page
    assert [r["action"] for r in Holder.requests] == ["query"]
    refused = _post(officer, f"{base}/delete", {"confirm": "yes"}, f"{base}/delete")
    assert location(refused) == f"{base}/delete"
    clients.set_user_data_uri(clients.get(holder.client_id), f"http://127.0.0.1:{free_port()}/")
    db.session.commit()
    page = page_text(officer.get(f"{base}/delete"))
    assert "could not be asked whether it holds data of Tess" in page
    assert officer.get(base).status_code == 200


@pytest.fixture
def not_http():
    """A server that answers every request with something that is not HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/data"
    server.close()


def test_an_answer_that_is_not_http_counts_as_holding_data(officer, make, tess, terry, not_http):
    holder = make.client(name="Progression Tests", user_data_uri=not_http)
    base = f"/organisation/AA101/users/{tess.sub}"
    page = officer.get(f"{base}/delete")
    assert page.status_code == 200
    assert "could not be asked whether it holds data of Tess" in page_text(page)
    refused = _post(officer, f"{base}/delete", {"confirm": "yes"}, f"{base}/delete")
    assert location(refused) == f"{base}/delete"
    moved = _post(
        officer, f"{base}/transfer", {"client_id": holder.client_id, "to": terry.sub}, base
    )
    assert location(moved) == f"{base}/delete"
    page = page_text(officer.get(f"{base}/delete"))
    assert "Progression Tests could not be reached. Try again later." in page
    assert officer.get(base).status_code == 200


def test_nobody_active_is_offered_for_deletion(officer, holder, terry):
    base = f"/organisation/AA101/users/{terry.sub}"
    response = officer.get(f"{base}/delete")
    assert location(response) == base
    assert "Suspend this account before deleting it" in page_text(officer.get(base))
    assert Holder.requests == []


# -- only people the holding service will accept are offered, or asked to receive ----------------


def test_only_members_with_a_role_for_the_service_are_offered(officer, holder, tess, make, centre):
    Holder.holdings = {tess.sub: 1}
    base = f"/organisation/AA101/users/{tess.sub}"
    page = page_text(officer.get(f"{base}/delete"))
    assert "No one else at AA101 has a role for Progression Tests. Give someone a role for it" in (
        page
    )
    assert "Transfer data" not in page
    make.user("aa.only@example.org", given_name="Ann", org=centre, roles=("aa.nominated_user",))
    make.user("terry@example.org", given_name="Terry", org=centre, roles=("sfa.teacher",))
    page = page_text(officer.get(f"{base}/delete"))
    assert "terry@example.org" in page and "aa.only@example.org" not in page
    assert "officer@example.org" not in page  # User Management is no role for the service


def test_a_crafted_transfer_to_someone_without_a_role_is_refused_before_asking(
    officer, holder, tess, make, centre, terry
):
    Holder.holdings = {tess.sub: 1}
    base = f"/organisation/AA101/users/{tess.sub}"
    ann = make.user(
        "aa.only@example.org", given_name="Ann", org=centre, roles=("aa.nominated_user",)
    )
    suspended_here = make.user(
        "sam@example.org", given_name="Sam", org=centre, roles=("sfa.teacher",)
    )
    organisations.set_roles(suspended_here, make.org("ZZ901"), {"sfa.teacher"}, make.catalogue)
    suspensions.suspend(
        management.member(centre, centre.exams_officer.sub)[0], centre, suspended_here,
        make.catalogue,
    )  # fmt: skip
    db.session.commit()
    for to in (ann.sub, suspended_here.sub, centre.exams_officer.sub):
        _post(officer, f"{base}/transfer", {"client_id": holder.client_id, "to": to}, base)
        page = page_text(officer.get(f"{base}/delete"))
        assert "Choose someone at AA101 who has a role for this service." in page
    assert all(r["action"] == "query" for r in Holder.requests)
    assert Holder.holdings == {tess.sub: 1}
