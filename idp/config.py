"""Settings, read once and validated once.

Precedence, lowest first: built-in defaults < the TOML file named by ``IDP_CONFIG``
(or ``./config.toml`` when it exists) < ``IDP_*`` environment variables < the
``overrides`` dict that tests pass to ``create_app``.

Keys are case-insensitive and are upper-cased on load, so ``[mail] host`` in TOML,
``IDP_MAIL__HOST`` in the environment (``__`` separates a section from its key, as in
Flask's ``Config.from_prefixed_env``) and ``{"MAIL": {"HOST": ...}}`` in overrides all
name the same setting. Environment values are parsed as JSON when they parse
(``60`` is a number, ``true`` a boolean, ``[...]`` a list) and kept as strings otherwise.

Every problem is collected and reported together, in one line, by ``ConfigError``.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from limits import parse_many

from idp.catalogue import DEFAULT_CATALOGUE, Catalogue, CatalogueError

ENV_PREFIX = "IDP_"
# Environment variables with the prefix that are not settings: the config file's path, the
# test database, and the serving options read by idp/gunicorn_conf.py.
META_ENV = {
    "IDP_CONFIG",
    "IDP_TEST_DATABASE_URL",
    "IDP_BIND",
    "IDP_WORKERS",
    "IDP_ACCESS_LOG",
    "IDP_LOG_LEVEL",
}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ALGORITHMS = ("RS256", "ES256")
NEW_DEVICE_POLICIES = ("always", "new_device", "never")
# The longest a web request's statement may run: a third of the time gunicorn gives a request
# (``timeout = 30`` in idp/gunicorn_conf.py), so a request that meets a slow statement, or two,
# still answers its 503 long before its worker would be stopped (tests/test_config.py).
MAX_STATEMENT_TIMEOUT = 10.0


class ConfigError(Exception):
    """The configuration cannot be used; the message names every bad setting."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("configuration error: " + "; ".join(problems))


@dataclass(frozen=True)
class OIDCSettings:
    issuer: str = "http://127.0.0.1:5000"
    keys_dir: str = "keys"
    signing_alg: str = "RS256"
    authorization_code_ttl: int = 60
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 24 * 3600
    keyring_refresh: int = 30
    key_retention_margin: int = 3600
    # Whether a dynamically registered client may name loopback or private addresses for the
    # URLs the provider itself requests (development only; see idp/outbound.py).
    registration_allows_private_addresses: bool = False


@dataclass(frozen=True)
class AuthSettings:
    session_ttl: int = 8 * 3600
    session_idle_ttl: int = 3600
    # NIST SP 800-63B-4: 15 characters when the password is the only factor, 8 with TOTP.
    password_min_length: int = 15
    password_min_length_with_totp: int = 8
    pwned_passwords_url: str = ""
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19456
    argon2_parallelism: int = 1
    interaction_ttl: int = 1800
    # An invitation with a temporary password and an invitation to join last as long by
    # default: an officer's pages show when each expires, and must not tell them apart.
    temporary_password_ttl: int = 14 * 24 * 3600
    join_invitation_ttl: int = 14 * 24 * 3600
    code_ttl: int = 600
    code_max_attempts: int = 5
    code_resend_interval: int = 60
    new_device_verification: str = "new_device"
    device_cookie_ttl: int = 180 * 24 * 3600
    password_reset_ttl: int = 3600
    # An officer's change of someone's address waits for the link sent to the new address:
    # three days spans a weekend (asked on Friday afternoon, confirmed on Monday).
    address_change_ttl: int = 3 * 24 * 3600
    self_signup: bool = True
    pending_sign_in_ttl: int = 900
    # Passkeys: how long a ceremony's challenge may be answered, and how recent a sign-in
    # must be to add a passkey.
    passkey_challenge_ttl: int = 300
    passkey_recent_sign_in: int = 600
    # The roles whose holders must have a passkey (a phishing-resistant factor), separated
    # by spaces: User Management (both brands) and Global Listening.
    phishing_resistant_roles: str = "user_management ocr.user_management gl.exams_officer"


@dataclass(frozen=True)
class MailSettings:
    backend: str = "outbox"
    sender: str = "My Cambridge <no-reply@idp.example.org>"
    outbox_dir: str = "instance/outbox"
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"
    ca_file: str = ""
    username: str = ""
    password: str = ""
    timeout: int = 10
    retries: int = 3
    retry_delay: float = 0.5


@dataclass(frozen=True)
class RateLimitSettings:
    enabled: bool = True
    storage_uri: str = "database://"
    # Per source address (a school's pupils and staff may share one).
    sign_in: str = "30 per minute; 300 per hour"
    codes: str = "30 per minute; 300 per hour"
    password_reset: str = "10 per minute; 50 per hour"
    signup: str = "10 per minute; 50 per hour"
    # Per signed-in officer.
    invitations: str = "30 per hour"
    # Per client, at the token endpoint.
    token: str = "600 per minute"
    # Per account: after this many wrong passwords in a row, each further try waits twice as
    # long as the one before (from account_backoff_base seconds up to account_backoff_max),
    # so nobody can lock an account for good; a right password in the wait is refused too.
    account_free_failures: int = 5
    account_backoff_base: float = 2.0
    account_backoff_max: float = 900.0


@dataclass(frozen=True)
class DatabaseSettings:
    """How long one SQL statement may run before PostgreSQL cancels it (seconds). SQLite has
    no such limit."""

    # In a web request: a cancelled statement is a 503 "took too long" with Retry-After.
    statement_timeout: float = 5.0
    # In every ``idp`` command (``idp maintenance purge`` from cron, ``idp db upgrade``'s
    # migrations, ``idp audit export``): they hold no worker and may read a great deal.
    maintenance_statement_timeout: float = 300.0


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = False
    bearer_token: str = ""


FACEBOOK_URLS = {
    "authorize_url": "https://www.facebook.com/v19.0/dialog/oauth",
    "token_url": "https://graph.facebook.com/v19.0/oauth/access_token",
    "userinfo_url": "https://graph.facebook.com/v19.0/me?fields=id,name,email",
}
UPSTREAM_KINDS = ("oidc", "facebook")


@dataclass(frozen=True)
class Upstream:
    """A provider people may connect to their account and sign in with (``[[upstream]]``):
    an OpenID Connect provider found by discovery (Google is one), or Facebook's OAuth 2.0
    with its Graph API for who the person is."""

    key: str
    name: str
    kind: str
    client_id: str
    client_secret: str
    issuer: str = ""
    scope: str = ""
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    # Apply our own second steps (authenticator app, new-device code) after it, as after a
    # password. Off: the upstream sign-in alone is enough.
    second_factor: bool = True
    timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    secret_key: str
    database_url: str
    demo: bool
    instance_dir: Path
    trusted_proxies: int
    testing: bool
    oidc: OIDCSettings
    auth: AuthSettings
    mail: MailSettings
    rate_limits: RateLimitSettings
    catalogue: Catalogue = field(repr=False)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings, repr=False)
    upstreams: tuple[Upstream, ...] = field(default=(), repr=False)

    @property
    def keys_path(self) -> Path:
        return Path(self.oidc.keys_dir)


DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "",
    "DATABASE_URL": "sqlite:///instance/idp.sqlite3",
    "DEMO": False,
    "TESTING": False,
    "INSTANCE_DIR": "instance",
    "TRUSTED_PROXIES": 0,
    "OIDC": {},
    "AUTH": {},
    "MAIL": {},
    "RATE_LIMITS": {},
    "DATABASE": {},
    "METRICS": {},
    "CATALOGUE": {},
    "UPSTREAM": [],
}

SECTIONS: dict[str, type] = {
    "OIDC": OIDCSettings,
    "AUTH": AuthSettings,
    "MAIL": MailSettings,
    "RATE_LIMITS": RateLimitSettings,
    "DATABASE": DatabaseSettings,
    "METRICS": MetricsSettings,
}


def load(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the validated settings from every source, or raise ConfigError."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    raw = copy.deepcopy(DEFAULTS)

    path = environ.get("IDP_CONFIG") or ("config.toml" if Path("config.toml").is_file() else None)
    if path:
        try:
            with open(path, "rb") as fh:
                _merge(raw, _upper_keys(tomllib.load(fh)))
        except FileNotFoundError:
            problems.append(f"IDP_CONFIG: file not found: {path}")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"IDP_CONFIG: {path} is not valid TOML: {exc}")

    _merge(raw, _from_environ(environ))
    if overrides:
        _merge(raw, _upper_keys(dict(overrides)))

    settings = _validate(raw, problems)
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return settings


def _upper_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """Upper-case setting and section names; records inside lists keep their keys."""
    return {
        key.upper(): _upper_keys(value) if isinstance(value, Mapping) else value
        for key, value in data.items()
    }


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """``IDP_MAIL__HOST=x`` -> ``{"MAIL": {"HOST": "x"}}`` (Flask's prefixed-env scheme)."""
    result: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in META_ENV:
            continue
        value: Any = environ[name]
        try:
            value = json.loads(value)
        except ValueError:
            pass
        *parts, tail = name.removeprefix(ENV_PREFIX).upper().split("__")
        node = result
        for part in parts:
            node = node.setdefault(part, {})
        node[tail] = value
    return result


def _check_type(value: Any, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _section(cls: type, raw: Any, name: str, problems: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(f"{name.lower()}: must be a table of settings")
        raw = {}
    raw = dict(raw)
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        key = f.name.upper()
        if key not in raw:
            continue
        value = raw.pop(key)
        expected = hints[f.name]
        if isinstance(value, str) and expected in (int, float, bool):
            problems.append(f"{name.lower()}.{f.name}: must be {expected.__name__}, got {value!r}")
            continue
        if not _check_type(value, expected):
            problems.append(
                f"{name.lower()}.{f.name}: must be {expected.__name__}, got {type(value).__name__}"
            )
            continue
        values[f.name] = value
    for unknown in sorted(raw):
        problems.append(f"{name.lower()}.{unknown.lower()}: unknown setting")
    return cls(**values)


def _validate(raw: dict[str, Any], problems: list[str]) -> Settings | None:
    top_known = {
        "SECRET_KEY",
        "DATABASE_URL",
        "DEMO",
        "TESTING",
        "INSTANCE_DIR",
        "TRUSTED_PROXIES",
        "CATALOGUE",
        "UPSTREAM",
    }
    for key in sorted(set(raw) - top_known - set(SECTIONS)):
        problems.append(f"{key.lower()}: unknown setting")

    sections = {
        name: _section(cls, raw.get(name, {}), name, problems) for name, cls in SECTIONS.items()
    }
    oidc: OIDCSettings = sections["OIDC"]
    auth: AuthSettings = sections["AUTH"]
    mail: MailSettings = sections["MAIL"]

    scalars: dict[str, Any] = {}
    for key, expected in (
        ("SECRET_KEY", str),
        ("DATABASE_URL", str),
        ("INSTANCE_DIR", str),
        ("DEMO", bool),
        ("TESTING", bool),
        ("TRUSTED_PROXIES", int),
    ):
        value = raw.get(key)
        if not _check_type(value, expected):
            problems.append(f"{key.lower()}: must be {expected.__name__}")
            value = DEFAULTS[key]
        scalars[key] = value

    if not 0 <= scalars["TRUSTED_PROXIES"] <= 5:
        problems.append("trusted_proxies: must be between 0 and 5")
    if not scalars["SECRET_KEY"] and not scalars["TESTING"]:
        problems.append("secret_key: not set (set IDP_SECRET_KEY or secret_key in the config file)")
    elif scalars["SECRET_KEY"] and len(scalars["SECRET_KEY"]) < 32 and not scalars["TESTING"]:
        problems.append("secret_key: must be at least 32 characters")

    _check_issuer(oidc.issuer, problems)
    if oidc.signing_alg not in ALGORITHMS:
        problems.append(f"oidc.signing_alg: must be one of {', '.join(ALGORITHMS)}")
    if not 1 <= oidc.authorization_code_ttl <= 60:
        problems.append("oidc.authorization_code_ttl: must be between 1 and 60 seconds")
    for name in ("access_token_ttl", "id_token_ttl", "refresh_token_ttl", "keyring_refresh"):
        if getattr(oidc, name) <= 0:
            problems.append(f"oidc.{name}: must be a positive number of seconds")
    for name in ("password_min_length", "password_min_length_with_totp"):
        if not 8 <= getattr(auth, name) <= 64:
            problems.append(f"auth.{name}: must be between 8 and 64")
    if auth.new_device_verification not in NEW_DEVICE_POLICIES:
        problems.append(
            "auth.new_device_verification: must be one of " + ", ".join(NEW_DEVICE_POLICIES)
        )
    for name in (
        "session_ttl",
        "session_idle_ttl",
        "temporary_password_ttl",
        "join_invitation_ttl",
        "code_ttl",
        "code_max_attempts",
        "device_cookie_ttl",
        "password_reset_ttl",
        "address_change_ttl",
        "pending_sign_in_ttl",
        "passkey_challenge_ttl",
        "passkey_recent_sign_in",
    ):
        if getattr(auth, name) <= 0:
            problems.append(f"auth.{name}: must be a positive number")
    if auth.pwned_passwords_url and not is_https_or_loopback(auth.pwned_passwords_url):
        problems.append(
            "auth.pwned_passwords_url: must use https (http is allowed on loopback only)"
        )
    if auth.argon2_memory_cost < 8 * 1024 and not scalars["TESTING"]:
        problems.append("auth.argon2_memory_cost: must be at least 8192 KiB")
    limits: RateLimitSettings = sections["RATE_LIMITS"]
    for name in ("sign_in", "codes", "password_reset", "signup", "invitations", "token"):
        try:
            parse_many(getattr(limits, name))
        except ValueError:
            problems.append(f"rate_limits.{name}: not a rate limit such as '30 per minute'")
    if not urlsplit(limits.storage_uri).scheme:
        problems.append("rate_limits.storage_uri: must be a URI such as database:// or redis://")
    if (
        limits.account_free_failures < 1
        or not 0 < limits.account_backoff_base <= limits.account_backoff_max
    ):
        problems.append(
            "rate_limits.account_*: need free_failures >= 1 and 0 < backoff_base <= backoff_max"
        )
    if mail.backend not in ("outbox", "smtp"):
        problems.append("mail.backend: must be 'outbox' or 'smtp'")
    if mail.security not in ("none", "starttls", "tls"):
        problems.append("mail.security: must be 'none', 'starttls' or 'tls'")

    _check_statement_timeouts(sections["DATABASE"], problems)
    database_url = scalars["DATABASE_URL"]
    if not database_url.startswith(("sqlite:", "postgresql")):
        problems.append("database_url: must be a sqlite:/// or postgresql:// URL")
    database_url = _absolute_sqlite(database_url)
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    try:
        catalogue = Catalogue.from_config(raw.get("CATALOGUE") or DEFAULT_CATALOGUE)
    except CatalogueError as exc:
        problems.append(f"catalogue: {exc}")
        catalogue = Catalogue.from_config(DEFAULT_CATALOGUE)

    upstreams = _upstreams(raw.get("UPSTREAM"), problems)
    metrics: MetricsSettings = sections["METRICS"]
    if metrics.enabled and len(metrics.bearer_token) < 16:
        problems.append("metrics.bearer_token: set one of 16 characters or more to enable /metrics")

    if problems:
        return None
    return Settings(
        secret_key=scalars["SECRET_KEY"],
        database_url=database_url,
        demo=scalars["DEMO"],
        instance_dir=Path(scalars["INSTANCE_DIR"]).resolve(),
        trusted_proxies=scalars["TRUSTED_PROXIES"],
        testing=scalars["TESTING"],
        oidc=oidc,
        auth=auth,
        mail=mail,
        rate_limits=sections["RATE_LIMITS"],
        catalogue=catalogue,
        database=sections["DATABASE"],
        upstreams=upstreams,
        metrics=metrics,
    )


def _check_statement_timeouts(database: DatabaseSettings, problems: list[str]) -> None:
    web, maintenance = database.statement_timeout, database.maintenance_statement_timeout
    if not 0 < web <= MAX_STATEMENT_TIMEOUT:
        problems.append(
            "database.statement_timeout: must be more than 0 and at most"
            f" {MAX_STATEMENT_TIMEOUT:g} seconds"
        )
    if maintenance <= 0:
        problems.append(
            "database.maintenance_statement_timeout: must be a positive number of seconds"
        )
    elif maintenance < web:
        problems.append(
            "database.maintenance_statement_timeout: must be at least database.statement_timeout"
        )


def _upstreams(raw: Any, problems: list[str]) -> tuple[Upstream, ...]:
    if not isinstance(raw, list):
        problems.append("upstream: must be a list of tables ([[upstream]])")
        return ()
    found: list[Upstream] = []
    hints = get_type_hints(Upstream)
    for n, record in enumerate(raw):
        where = f"upstream[{n}]"
        if not isinstance(record, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        values: dict[str, Any] = {}
        for name, value in record.items():
            name = name.lower()
            if name not in hints:
                problems.append(f"{where}.{name}: unknown setting")
            elif not _check_type(value, hints[name]):
                problems.append(f"{where}.{name}: must be {hints[name].__name__}")
            else:
                values[name] = value
        missing = [
            k for k in ("key", "name", "kind", "client_id", "client_secret") if not values.get(k)
        ]
        if missing:
            problems.append(f"{where}: {', '.join(missing)} must be set")
            continue
        key = values["key"]
        if not key.isascii() or not key.replace("-", "").isalnum() or key != key.lower():
            problems.append(f"{where}.key: lowercase letters, digits and - only")
        if any(u.key == key for u in found):
            problems.append(f"{where}.key: {key!r} is used twice")
        if values["kind"] not in UPSTREAM_KINDS:
            problems.append(f"{where}.kind: must be one of {', '.join(UPSTREAM_KINDS)}")
            continue
        if values["kind"] == "oidc":
            if not values.get("issuer"):
                problems.append(f"{where}.issuer: must be set for an OpenID Connect provider")
            values.setdefault("scope", "openid email profile")
            urls = ["issuer"] if values.get("issuer") else []
        else:
            for name, default in FACEBOOK_URLS.items():
                values.setdefault(name, default)
            values.setdefault("scope", "email public_profile")
            urls = list(FACEBOOK_URLS)
        for name in urls:
            if not is_https_or_loopback(values[name]):
                problems.append(
                    f"{where}.{name}: must use https (http is allowed on loopback only)"
                )
        if values.get("timeout", 10.0) <= 0:
            problems.append(f"{where}.timeout: must be a positive number of seconds")
        found.append(Upstream(**values))
    return tuple(found)


def _check_issuer(issuer: str, problems: list[str]) -> None:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("oidc.issuer: must be an absolute URL")
    elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        problems.append("oidc.issuer: must use https (http is allowed on loopback only)")
    elif parts.query or parts.fragment or issuer.endswith("/"):
        problems.append("oidc.issuer: must have no query, fragment or trailing slash")


def _absolute_sqlite(url: str) -> str:
    """Resolve a relative SQLite path against the working directory, not Flask's instance folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:" or url.startswith(prefix + "/"):
        return url
    return prefix + str(Path(url.removeprefix(prefix)).resolve())


def issuer_is_loopback_http(issuer: str) -> bool:
    parts = urlsplit(issuer)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def is_https_or_loopback(url: str) -> bool:
    """An https URL, or plain http to this machine only."""
    return urlsplit(url).scheme == "https" or issuer_is_loopback_http(url)
