"""What ``idp demo`` configures for connected accounts: its stand-in for Google, through
``IDP_UPSTREAM`` for the provider it starts, and nothing when the operator configured
providers themselves."""

from __future__ import annotations

import json

import pytest

from idp import config
from idp.cli import DEMO_UPSTREAM_NAME, demo_upstream

ISSUER = "http://127.0.0.1:5000"
OPERATORS = [
    {"key": "fb", "name": "Facebook", "kind": "facebook", "client_id": "a", "client_secret": "b"}
]


def _settings(**overrides):
    return config.load({"TESTING": True, **overrides}, environ={})


def test_without_upstreams_the_provider_is_pointed_at_the_stand_in(tmp_path):
    environ: dict[str, str] = {}
    stand_in = demo_upstream(_settings(), tmp_path, ISSUER, environ)
    assert stand_in is not None
    assert stand_in.redirect_uri == f"{ISSUER}/login/with/google/callback"
    assert stand_in.environment()["UPSTREAM_CLIENT_SECRET"] == stand_in.client_secret

    # What the provider's gunicorn reads, through the same validation as any [[upstream]].
    (upstream,) = config.load({"TESTING": True}, environ=environ).upstreams
    assert (upstream.key, upstream.name, upstream.kind) == ("google", DEMO_UPSTREAM_NAME, "oidc")
    assert upstream.issuer == stand_in.issuer == "http://127.0.0.1:5110"
    assert (upstream.client_id, upstream.client_secret) == (
        stand_in.client_id,
        stand_in.client_secret,
    )

    # The secret is kept, readable by its owner only, and the same the next time.
    kept = tmp_path / "demo-upstream.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    again = demo_upstream(_settings(), tmp_path, ISSUER, {})
    assert again is not None and again.client_secret == stand_in.client_secret


def test_upstreams_in_the_config_file_are_left_alone(tmp_path):
    environ: dict[str, str] = {}
    assert demo_upstream(_settings(UPSTREAM=OPERATORS), tmp_path, ISSUER, environ) is None
    assert environ == {}
    assert not (tmp_path / "demo-upstream.json").exists()


@pytest.mark.parametrize("value", [json.dumps(OPERATORS), "[]"], ids=["some", "none"])
def test_upstreams_in_the_environment_are_left_alone_even_none(tmp_path, value):
    environ = {"IDP_UPSTREAM": value}
    assert demo_upstream(_settings(), tmp_path, ISSUER, environ) is None
    assert environ == {"IDP_UPSTREAM": value}
    assert not (tmp_path / "demo-upstream.json").exists()
