"""A tile signs straight in (OpenID Connect Core 1.0 §4), over real HTTP: the provider runs
under gunicorn with Submit for Assessment's page in its catalogue on the demo service's port,
the service is the generic demo app on its own loopback port, and a requests session is the
browser following the whole chain."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from clients.rp import create_rp_app, own_path
from clients.services import SERVICES
from idp.catalogue import DEFAULT_CATALOGUE
from tests.factories import PASSWORD
from tests.mailbox import free_port
from tests.servers import serving

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVICE = SERVICES["submit-for-assessment"]


@pytest.fixture(scope="module")
def rp_base() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def provider(base_overrides, tmp_path_factory, rp_base) -> Iterator[str]:
    """``idp serve`` whose catalogue places Submit for Assessment at ``rp_base``."""
    catalogue = copy.deepcopy(DEFAULT_CATALOGUE)
    for service in catalogue["services"]:
        if service["key"] == SERVICE.key:
            service["url"] = f"{rp_base}/"
    directory = tmp_path_factory.mktemp("provider")
    with serving(base_overrides, directory, workers=1, IDP_CATALOGUE=json.dumps(catalogue)) as (
        _port,
        base,
    ):
        yield base


@pytest.fixture
def service(provider, rp_base, make) -> Iterator[str]:
    """Submit for Assessment, registered with its initiate login URI and serving on
    ``rp_base``."""
    centre = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(centre)
    make.user(
        "tess+tiles@example.org",
        given_name="Tess",
        family_name="Teacher",
        org=centre,
        roles=("sfa.teacher",),
    )
    registered = make.client(
        name=SERVICE.name,
        client_id=SERVICE.client_id,
        services=(SERVICE.key,),
        redirect_uri=f"{rp_base}/callback",
        post_logout_redirect_uri=f"{rp_base}/",
        initiate_login_uri=f"{rp_base}/initiate-login",
    )
    app = create_rp_app(SERVICE, issuer=provider, client_secret=registered.secret, base_url=rp_base)
    server = make_server("127.0.0.1", int(rp_base.rsplit(":", 1)[1]), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield rp_base
    server.shutdown()


def _signed_in_browser(provider: str, email: str = "tess+tiles@example.org") -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{provider}/login", timeout=10)
    form = {"csrf_token": CSRF.search(page.text).group(1), "email": email, "password": PASSWORD}
    response = browser.post(f"{provider}/login", data=form, allow_redirects=False, timeout=10)
    assert response.headers["Location"] == "/", response.text[:300]
    return browser


def _signed_in_at_the_service(page: requests.Response) -> bool:
    return "Tess Teacher · AA101" in page.text and "Sign out" in page.text


def test_a_tile_lands_in_the_service_signed_in_with_no_second_click(provider, service):
    browser = _signed_in_browser(provider)
    page = browser.get(f"{provider}/launch/submit_for_assessment", timeout=10)
    assert page.status_code == 200 and page.url == f"{service}/"
    assert _signed_in_at_the_service(page), page.text[:500]
    # Redirects only: the tile, the service's initiate login, the authorization, the callback.
    hops = [urlsplit(r.url) for r in page.history]
    assert [h.path for h in hops] == [
        "/launch/submit_for_assessment",
        "/initiate-login",
        "/authorize",
        "/callback",
    ]
    assert all(r.status_code in (302, 303) for r in page.history)
    # The hint went on to the authorization request, as §4 requires.
    assert parse_qs(hops[2].query)["login_hint"] == ["tess+tiles@example.org"]


def test_a_tile_signs_in_first_when_the_browser_is_not_signed_in(provider, service):
    browser = requests.Session()
    page = browser.get(f"{provider}/launch/submit_for_assessment", timeout=10)
    assert urlsplit(page.url).path == "/login"
    form = {
        "csrf_token": CSRF.search(page.text).group(1),
        "email": "tess+tiles@example.org",
        "password": PASSWORD,
    }
    landed = browser.post(page.url, data=form, timeout=10)
    assert landed.url == f"{service}/" and _signed_in_at_the_service(landed)


def test_the_service_lands_on_the_target_links_path_by_post_too(provider, service):
    browser = _signed_in_browser(provider)
    form = {
        "iss": provider,
        "login_hint": "tess+tiles@example.org",
        "target_link_uri": f"{service}/?tab=mine",
    }
    page = browser.post(f"{service}/initiate-login", data=form, timeout=10)
    assert page.url == f"{service}/?tab=mine" and _signed_in_at_the_service(page)


def test_a_sign_in_started_for_another_provider_is_refused(provider, service):
    browser = _signed_in_browser(provider)
    for iss in ("https://evil.example.net", "", provider + "/"):
        query = urlencode({"iss": iss, "target_link_uri": f"{service}/"})
        page = browser.get(f"{service}/initiate-login?{query}", allow_redirects=False, timeout=10)
        assert page.status_code == 400 and "not started by our identity provider" in page.text
        assert "Location" not in page.headers
    page = browser.get(f"{service}/initiate-login", allow_redirects=False, timeout=10)
    assert page.status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.net/",
        "http://127.0.0.1.evil.example.net/",
        "javascript:alert(1)",
        "//evil.example.net/",
    ],
)
def test_a_target_link_off_the_service_is_ignored(provider, service, target):
    browser = _signed_in_browser(provider)
    query = urlencode({"iss": provider, "target_link_uri": target})
    page = browser.get(f"{service}/initiate-login?{query}", timeout=10)
    assert page.url == f"{service}/" and _signed_in_at_the_service(page)


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("http://127.0.0.1:5101/results?x=1", "/results?x=1"),
        ("HTTP://127.0.0.1:5101", "/"),
        ("http://127.0.0.1:5102/results", "/"),  # another port: another origin
        ("https://127.0.0.1:5101/results", "/"),
        ("http://evil@127.0.0.1:5101//evil.example.net/", "/evil.example.net/"),
        ("http://127.0.0.1:5101@evil.example.net/", "/"),
        ("/results", "/"),
        ("", "/"),
        # The sign-in's own endpoints: no stranger's error_description after a real sign-in.
        ("http://127.0.0.1:5101/callback?error=x&error_description=Call+0800", "/"),
        ("http://127.0.0.1:5101//callback/?error=x", "/"),
        ("http://127.0.0.1:5101/initiate-login?iss=x", "/"),
        ("http://127.0.0.1:5101/logout", "/"),
    ],
)
def test_only_the_services_own_origin_is_a_landing(target, landing):
    assert own_path(target, "http://127.0.0.1:5101") == landing
