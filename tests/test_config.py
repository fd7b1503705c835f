"""Settings: precedence, environment nesting, validation in one line."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest

from idp import config, database
from idp.catalogue import DEFAULT_CATALOGUE, Catalogue

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 40


def load(overrides=None, environ=None, tmp_path=None, toml: str | None = None):
    env = dict(environ or {})
    if toml is not None:
        path = tmp_path / "config.toml"
        path.write_text(toml)
        env["IDP_CONFIG"] = str(path)
    return config.load(overrides, environ=env)


def test_defaults_need_only_a_secret():
    settings = load(environ={"IDP_SECRET_KEY": SECRET})
    assert settings.oidc.issuer == "http://127.0.0.1:5000"
    assert settings.oidc.authorization_code_ttl == 60
    assert settings.mail.backend == "outbox"
    assert settings.database_url.startswith("sqlite:////")


def test_precedence_defaults_file_environment_overrides(tmp_path):
    toml = (
        f'secret_key = "{SECRET}"\n'
        '[mail]\nhost = "file.example.org"\nport = 2525\n'
        "[oidc]\naccess_token_ttl = 300\n"
    )
    settings = load(
        tmp_path=tmp_path,
        toml=toml,
        environ={"IDP_MAIL__HOST": "env.example.org"},
        overrides={"OIDC": {"ACCESS_TOKEN_TTL": 120}},
    )
    assert settings.mail.host == "env.example.org"  # environment beats the file
    assert settings.mail.port == 2525  # the file beats the default
    assert settings.oidc.access_token_ttl == 120  # overrides beat everything
    assert settings.oidc.id_token_ttl == 600  # untouched default


def test_environment_values_are_json_parsed_and_keys_case_insensitive(tmp_path):
    settings = load(
        environ={
            "IDP_SECRET_KEY": SECRET,
            "IDP_OIDC__ID_TOKEN_TTL": "900",
            "idp_rate_limits__enabled": "false",
            "IDP_Mail__Sender": "x@example.org",
        }
    )
    assert settings.oidc.id_token_ttl == 900
    assert settings.mail.sender == "x@example.org"


def test_postgres_url_uses_psycopg3():
    settings = load(environ={"IDP_SECRET_KEY": SECRET, "IDP_DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "secret_key: not set"),
        ({"IDP_SECRET_KEY": "short"}, "secret_key: must be at least 32 characters"),
        ({"IDP_OIDC__ISSUER": "http://idp.example.org"}, "oidc.issuer: must use https"),
        (
            {"IDP_OIDC__ISSUER": "https://idp.example.org/"},
            "oidc.issuer: must have no query, fragment or trailing slash",
        ),
        ({"IDP_OIDC__ISSUER": "not a url"}, "oidc.issuer: must be an absolute URL"),
        (
            {"IDP_OIDC__AUTHORIZATION_CODE_TTL": "600"},
            "oidc.authorization_code_ttl: must be between 1 and 60",
        ),
        ({"IDP_OIDC__ACCESS_TOKEN_TTL": "soon"}, "oidc.access_token_ttl: must be int, got 'soon'"),
        ({"IDP_OIDC__SIGNING_ALG": "HS256"}, "oidc.signing_alg: must be one of RS256, ES256"),
        ({"IDP_MAIL__BACKEND": "carrier-pigeon"}, "mail.backend: must be 'outbox' or 'smtp'"),
        ({"IDP_MAIL__HSOT": "typo.example.org"}, "mail.hsot: unknown setting"),
        (
            {"IDP_DATABASE_URL": "mysql://x"},
            "database_url: must be a sqlite:/// or postgresql:// URL",
        ),
        (
            {"IDP_DATABASE__STATEMENT_TIMEOUT": "0"},
            "database.statement_timeout: must be more than 0 and at most 10 seconds",
        ),
        (
            {"IDP_DATABASE__STATEMENT_TIMEOUT": "-5"},
            "database.statement_timeout: must be more than 0 and at most 10 seconds",
        ),
        (
            {"IDP_DATABASE__STATEMENT_TIMEOUT": "30"},
            "database.statement_timeout: must be more than 0 and at most 10 seconds",
        ),
        (
            {"IDP_DATABASE__STATEMENT_TIMEOUT": '"5s"'},
            "database.statement_timeout: must be float, got '5s'",
        ),
        (
            {"IDP_DATABASE__MAINTENANCE_STATEMENT_TIMEOUT": "0"},
            "database.maintenance_statement_timeout: must be a positive number of seconds",
        ),
        (
            {"IDP_DATABASE__MAINTENANCE_STATEMENT_TIMEOUT": "2"},
            "database.maintenance_statement_timeout: must be at least database.statement_timeout",
        ),
    ],
)
def test_bad_settings_are_named(environ, message):
    env = {"IDP_SECRET_KEY": SECRET, **environ}
    if environ == {}:
        env = {}
    with pytest.raises(config.ConfigError) as raised:
        load(environ=env)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(config.ConfigError) as raised:
        load(environ={"IDP_OIDC__SIGNING_ALG": "none", "IDP_MAIL__PORT": '"x"'})
    assert len(raised.value.problems) == 3  # secret, alg, port


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(config.ConfigError, match="IDP_CONFIG: file not found"):
        load(environ={"IDP_CONFIG": str(tmp_path / "nope.toml"), "IDP_SECRET_KEY": SECRET})


def test_invalid_toml_is_named(tmp_path):
    with pytest.raises(config.ConfigError, match="is not valid TOML"):
        load(tmp_path=tmp_path, toml="secret_key = ", environ={})


def test_catalogue_errors_are_named(tmp_path):
    toml = (
        f'secret_key = "{SECRET}"\n[[catalogue.brands]]\nkey = "b"\nname = "B"\n'
        '[[catalogue.services]]\nkey = "s"\nname = "S"\nbrand = "nope"\n'
        '[[catalogue.roles]]\nkey = "r"\nservice = "s"\nname = "R"\n'
    )
    with pytest.raises(
        config.ConfigError, match="catalogue: service 's' names unknown brand 'nope'"
    ):
        load(tmp_path=tmp_path, toml=toml)


def test_example_file_documents_exactly_the_defaults():
    """config.example.toml must not drift from the built-in defaults."""
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    for section, cls in config.SECTIONS.items():
        assert example[section.lower()] == asdict(cls()), section
    assert example["database_url"] == config.DEFAULTS["DATABASE_URL"]
    assert Catalogue.from_config(example["catalogue"]) == Catalogue.from_config(DEFAULT_CATALOGUE)
    documented = set(example) - {"catalogue"} - {s.lower() for s in config.SECTIONS}
    assert documented == {k.lower() for k in config.DEFAULTS} - {"catalogue"} - {
        s.lower() for s in config.SECTIONS
    }


def test_cli_reports_a_bad_setting_in_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "IDP_SECRET_KEY": SECRET,
        "IDP_OIDC__ISSUER": "http://idp.example.org",
    }
    result = subprocess.run(
        [sys.executable, "-m", "idp.cli", "keys", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "oidc.issuer: must use https" in result.stderr
    assert "Traceback" not in result.stderr


def _upstream_at(issuer: str) -> dict[str, str]:
    upstream = {"key": "google", "name": "Google", "kind": "oidc", "issuer": issuer}
    return {
        "IDP_SECRET_KEY": SECRET,
        "IDP_UPSTREAM": json.dumps([{**upstream, "client_id": "a", "client_secret": "b"}]),
    }


def test_an_upstream_over_plain_http_must_be_on_this_machine():
    """The demo's stand-in for Google runs on loopback; anywhere else is https only."""
    with pytest.raises(config.ConfigError) as raised:
        load(environ=_upstream_at("http://accounts.google.example"))
    assert "upstream[0].issuer: must use https (http is allowed on loopback only)" in str(
        raised.value
    )
    (upstream,) = load(environ=_upstream_at("http://127.0.0.1:5110")).upstreams
    assert upstream.issuer == "http://127.0.0.1:5110"


def test_statement_timeouts_are_seconds_and_the_web_one_is_well_within_a_workers_time(
    monkeypatch, tmp_path
):
    settings = load(
        environ={
            "IDP_SECRET_KEY": SECRET,
            "IDP_DATABASE__STATEMENT_TIMEOUT": "2.5",
            "IDP_DATABASE__MAINTENANCE_STATEMENT_TIMEOUT": "600",
        }
    )
    assert settings.database.statement_timeout == 2.5
    assert settings.database.maintenance_statement_timeout == 600
    # gunicorn gives a request `timeout` seconds; the longest statement a web request may run
    # is a third of that at most, so it is cancelled (a 503) long before the worker would be.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # its only side effect
    serving = runpy.run_path(str(ROOT / "idp" / "gunicorn_conf.py"))
    assert config.MAX_STATEMENT_TIMEOUT * 3 <= serving["timeout"]
    assert config.DatabaseSettings().statement_timeout <= config.MAX_STATEMENT_TIMEOUT


def test_postgresql_connections_open_with_the_statement_timeout():
    options = database.engine_options("postgresql+psycopg://u@h/db", 2.5)
    assert options["connect_args"] == {"options": "-c statement_timeout=2500"}
    given = database.engine_options("postgresql+psycopg://u@h/db?options=-c%20search_path%3Dx", 5)
    assert given["connect_args"] == {"options": "-c search_path=x -c statement_timeout=5000"}
    # SQLite has no statement timeout: only its wait for the write lock.
    assert database.engine_options("sqlite:///x.sqlite3", 5) == {"connect_args": {"timeout": 30}}
