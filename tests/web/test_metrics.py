"""Prometheus metrics: off unless configured, behind a bearer token, and counting what an
operator watches (requests by route and status, sign-ins by result, tokens by grant)."""

from __future__ import annotations

import re

import pytest

from tests.journeys import sign_in
from tests.oidc_helpers import RelyingParty

TOKEN = "metrics-token-0123456789"


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def metered(make_app, overrides):
    overrides["METRICS"] = {"ENABLED": True, "BEARER_TOKEN": TOKEN}
    return make_app(overrides)


def _scrape(browser) -> str:
    response = browser.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_a_scrape_needs_the_token(metered):
    browser = metered.test_client()
    assert browser.get("/metrics").status_code == 401
    wrong = browser.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


def test_requests_sign_ins_and_tokens_are_counted(metered, make):
    make.user("jane@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    browser = metered.test_client()
    before = _scrape(browser)
    sign_in(browser, "jane@example.org", "a wrong password, clearly")
    rp = RelyingParty(metered.test_client(), make.client())
    tokens = rp.tokens("jane@example.org")
    rp.refresh(tokens["refresh_token"])
    browser.get("/organisation/ZZ123/users")
    after = _scrape(browser)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("idp_sign_ins_total", result="failed") == 1
    assert grew("idp_sign_ins_total", result="succeeded") == 1
    assert grew("idp_tokens_issued_total", grant="authorization_code") == 1
    assert grew("idp_tokens_issued_total", grant="refresh_token") == 1
    assert grew("idp_http_requests_total", endpoint="/token", method="POST", status="200") == 2
    # Routes, never raw paths: nothing from a URL's variable parts becomes a label.
    assert 'endpoint="/organisation/<code>/users"' in after and "ZZ123" not in after
    assert _value(after, "idp_http_request_duration_seconds_count", endpoint="/token") >= 2


def test_a_made_up_method_is_counted_as_other_not_as_a_new_series(metered):
    browser = metered.test_client()
    before = _scrape(browser)
    for name in ("BREW", "PROPFIND-1", "X" * 40):
        assert browser.open("/healthz", method=name).status_code == 405
    after = _scrape(browser)
    assert "BREW" not in after and "PROPFIND" not in after
    labels = {"endpoint": "unmatched", "method": "other", "status": "405"}
    counted = _value(after, "idp_http_requests_total", **labels)
    assert counted - _value(before, "idp_http_requests_total", **labels) == 3


def test_enabling_metrics_without_a_token_stops_start_up(make_app, overrides):
    from idp.config import ConfigError

    overrides["METRICS"] = {"ENABLED": True}
    with pytest.raises(ConfigError, match="metrics.bearer_token"):
        make_app(overrides)
