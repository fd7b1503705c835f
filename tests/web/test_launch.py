"""A tile's way in, ``/launch/<service>``: to the service's initiate login URI with ``iss``,
``login_hint`` and ``target_link_uri`` for a person holding a role for it where they act; the
service's page when it has none; a page saying why for anyone else, and never a redirect off
the service's own origin."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from idp.domain import clients, organisations
from idp.extensions import db
from tests.journeys import location, page_text, sign_in, submit
from tests.oidc_helpers import Callback, RelyingParty, csrf_token

SFA = "http://127.0.0.1:5101/"  # Submit for Assessment's page in the catalogue
INITIATE = "http://127.0.0.1:5101/initiate-login"


@pytest.fixture
def teacher(make):
    """A teacher at AA101 with Submit for Assessment; an address that needs encoding."""
    centre = make.org("AA101", name="Centre A")
    make.exams_officer(centre)
    return make.user("tess+tiles@example.org", org=centre, roles=("sfa.teacher",))


@pytest.fixture
def sfa(make):
    return make.client(
        name="Submit for Assessment",
        services=("submit_for_assessment",),
        redirect_uri="http://127.0.0.1:5101/callback",
        initiate_login_uri=INITIATE,
    )


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_a_tile_sends_the_browser_to_the_service_with_the_three_parameters(client, teacher, sfa):
    sign_in(client, "tess+tiles@example.org")
    response = client.get("/launch/submit_for_assessment")
    assert response.status_code == 303 and response.headers["Cache-Control"] == "no-store"
    target = response.headers["Location"]
    assert target.startswith(INITIATE + "?")
    assert _query(target) == {
        "iss": ["http://localhost"],
        "login_hint": ["tess+tiles@example.org"],
        "target_link_uri": [SFA],
    }
    # Encoded, not pasted: a "+" read back as a space would name someone else.
    assert "login_hint=tess%2Btiles%40example.org" in target
    assert "target_link_uri=http%3A%2F%2F127.0.0.1%3A5101%2F" in target


def test_a_query_the_initiate_login_uri_has_is_kept(client, make, teacher):
    make.client(
        services=("submit_for_assessment",),
        redirect_uri="http://127.0.0.1:5101/callback",
        initiate_login_uri=INITIATE + "?from=tile",
    )
    sign_in(client, "tess+tiles@example.org")
    target = location(client.get("/launch/submit_for_assessment"))
    assert target.startswith(INITIATE + "?from=tile&") and _query(target)["from"] == ["tile"]


def test_without_an_initiate_login_uri_the_tile_opens_the_services_page(client, make, teacher):
    make.client(services=("submit_for_assessment",), redirect_uri="http://127.0.0.1:5101/cb")
    sign_in(client, "tess+tiles@example.org")
    response = client.get("/launch/submit_for_assessment")
    assert response.status_code == 303 and location(response) == SFA


def test_without_the_role_the_tile_says_why_and_never_redirects(client, teacher, make):
    make.client(
        services=("access_arrangements",),
        redirect_uri="http://127.0.0.1:5102/callback",
        initiate_login_uri="http://127.0.0.1:5102/initiate-login",
    )
    sign_in(client, "tess+tiles@example.org")
    response = client.get("/launch/access_arrangements")
    html = page_text(response)
    assert response.status_code == 403 and "Location" not in response.headers
    assert "You do not have a role for this service at AA101" in html
    assert "Ask your exams officer, Olga Officer" in html


def test_a_service_held_at_another_organisation_is_not_launched_here(client, make, sfa):
    """Jane teaches at AA101 (Submit for Assessment) and AA102 (Access Arrangements): acting
    for AA102, the AA101 role opens nothing."""
    first, second = make.org("AA101", name="Centre A"), make.org("AA102", name="Centre B")
    jane = make.user("jane@example.org", org=first, roles=("sfa.teacher",))
    organisations.set_roles(jane, second, ("aa.nominated_user",), make.catalogue)
    db.session.commit()
    sign_in(client, "jane@example.org")
    # Acting for none yet: she must choose first, and nothing is launched.
    assert client.get("/launch/submit_for_assessment").status_code == 403
    submit(client, "/change-organisation", {"organisation": "AA102"}, page_url="/")
    response = client.get("/launch/submit_for_assessment")
    assert response.status_code == 403 and "Location" not in response.headers
    assert "at AA102" in page_text(response)
    submit(client, "/change-organisation", {"organisation": "AA101"}, page_url="/")
    assert location(client.get("/launch/submit_for_assessment")).startswith(INITIATE + "?")


def test_a_client_on_another_origin_never_gets_the_tile(client, make, teacher):
    """A client registered for the service whose origins do not include the service's page
    (say, registered dynamically by someone else): the tile does not send people, nor their
    addresses, there, and no ``target_link_uri`` leaves the client's own origins."""
    make.client(
        services=("submit_for_assessment",),
        first_party=False,
        redirect_uri="https://evil.example.net/callback",
        initiate_login_uri="https://evil.example.net/initiate-login",
    )
    sign_in(client, "tess+tiles@example.org")
    assert location(client.get("/launch/submit_for_assessment")) == SFA


def test_a_client_with_one_redirect_uri_on_the_services_origin_does_not_take_the_tile(
    client, make, teacher
):
    """Someone registers, for the service, a redirect URI on the service's origin beside their
    own and an initiate login URI on their own origin (nothing proves the first is theirs):
    with the service's own client registered without one, the tile still never sends people,
    nor their addresses, to the stranger's origin."""
    make.client(
        services=("submit_for_assessment",),
        first_party=False,
        redirect_uri="http://127.0.0.1:5101/callback",
        redirect_uris=["http://127.0.0.1:5101/callback", "http://localhost:6666/cb"],
        initiate_login_uri="http://localhost:6666/go",
    )
    sign_in(client, "tess+tiles@example.org")
    assert location(client.get("/launch/submit_for_assessment")) == SFA


def test_another_brands_service_is_not_found_here(client, teacher, sfa):
    """OCR Interchange is no service of AA101's board: no page tells an AA101 teacher to ask
    her exams officer for it."""
    sign_in(client, "tess+tiles@example.org")
    assert client.get("/launch/ocr_interchange").status_code == 404


def test_a_disabled_client_is_passed_over(client, teacher, sfa):
    clients.set_disabled(sfa.model, True)
    db.session.commit()
    sign_in(client, "tess+tiles@example.org")
    assert location(client.get("/launch/submit_for_assessment")) == SFA


def test_a_third_party_service_learns_no_address_before_consent(client, make, teacher):
    registered = make.client(
        services=("submit_for_assessment",),
        first_party=False,
        redirect_uri="http://127.0.0.1:5101/callback",
        initiate_login_uri=INITIATE,
    )
    sign_in(client, "tess+tiles@example.org")
    target = location(client.get("/launch/submit_for_assessment"))
    assert "login_hint" not in _query(target) and _query(target)["iss"] == ["http://localhost"]
    rp = RelyingParty(client, registered)
    html = page_text(rp.follow(rp.authorize(scope="openid profile email")))
    ix = html.split('name="ix" value="')[1].split('"')[0]
    allowed = client.post(
        "/consent", data={"csrf_token": csrf_token(html), "ix": ix, "decision": "allow"}
    )
    assert isinstance(rp.follow(allowed), Callback)
    target = location(client.get("/launch/submit_for_assessment"))
    assert _query(target)["login_hint"] == ["tess+tiles@example.org"]


def test_signed_out_the_tile_asks_for_a_sign_in_and_unknown_services_are_not_found(
    client, teacher, sfa
):
    response = client.get("/launch/submit_for_assessment")
    assert response.status_code == 302 and urlsplit(location(response)).path == "/login"
    sign_in(client, "tess+tiles@example.org")
    assert client.get("/launch/no_such_service").status_code == 404
