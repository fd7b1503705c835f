"""The provider as people meet it: ``idp serve`` and the Submit for Assessment demo service as
real processes on loopback ports (the other demo services too, for the tests that ask for
``services``), their mail going to the tests' SMTP server, driven by Playwright in Debian's
headless Chromium. Every page a journey reaches is checked with axe-core and at phone width
(``tests/browser/pages.py``).

The server has a database of its own: a SQLite file in a temporary directory, or, when
``IDP_TEST_DATABASE_URL`` names PostgreSQL, a schema of its own in that database (so the rest
of the suite, which empties the public schema's tables after each test, never sees it). The
operator's part (centres, the exams officer, the demo clients) goes through the ``idp`` CLI.

Locally the tests are skipped, with the reason, when the playwright package or
/usr/bin/chromium is missing; in CI (``CI`` set) they fail instead.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from clients.services import SERVICES
from idp.catalogue import DEFAULT_CATALOGUE
from idp.cli import Context, cli
from idp.domain.demo import DATA_HOLDERS
from idp.extensions import db
from tests.mailbox import Mailbox, free_port
from tests.servers import idp_serve, stop

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.11.0"
AXE_DIR = ROOT / ".cache" / "axe-core"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
ACTION_TIMEOUT_MS = 10_000


def _browser_tests(items: list[pytest.Item]) -> list[pytest.Item]:
    here = Path(__file__).resolve().parent
    return [item for item in items if here in item.path.resolve().parents]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Every browser test is slow: marked before ``-m`` deselects by marker (``pytestmark`` in
    a conftest marks nothing). Those still selected afterwards need Chromium."""
    for item in _browser_tests(items):
        item.add_marker(pytest.mark.slow)
    yield  # the other implementations, ``-m`` among them, run here
    selected = _browser_tests(items)
    reason = _missing() if selected else None
    if reason is None:
        return
    if os.environ.get("CI"):
        # In CI a missing browser is a broken build, not a skipped suite.
        raise pytest.UsageError(f"browser tests cannot run in CI: {reason}")
    for item in selected:
        item.add_marker(pytest.mark.skip(reason=f"browser tests: {reason}"))


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """axe-core from the npm registry, installed once into the git-ignored .cache/."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("axe-core is not in .cache/axe-core and npm is not installed")
        subprocess.run(  # noqa: S603
            [npm, "install", "--prefix", str(AXE_DIR), f"axe-core@{AXE_VERSION}"]
            + ["--no-audit", "--no-fund", "--silent"],
            check=True,
            timeout=120,
        )
    return AXE_JS


@dataclass
class Site:
    """The running provider and demo service, and how to act as their operator. ``urls`` is
    where the catalogue sends each demo service's tile (``clients.services`` name → base URL):
    Submit for Assessment's runs with the site, the others once a test asks for
    ``services``."""

    base: str
    sfa: str
    mailbox: Mailbox
    env: dict[str, str]
    urls: dict[str, str]
    tmp: Path
    cli: Context = field(default_factory=Context)

    def idp(self, *args: str) -> dict[str, Any]:
        """Run an ``idp`` command with the server's environment, as its operator would; its
        JSON answer. The commands run in this process (one app for all of them): a process
        per command would spend seconds importing."""
        result = CliRunner().invoke(cli, [*args, "--json"], obj=self.cli, env=self.env)
        assert result.exit_code == 0, f"idp {' '.join(args)}: {result.output}"
        return json.loads(result.output) if result.output.strip() else {}

    def close(self) -> None:
        if self.cli._app is not None:
            with self.cli._app.app_context():
                db.session.remove()
                db.engine.dispose()


def _own_database(tmp: Path) -> tuple[str, Any]:
    """A database URL for the browser server alone, and how to drop it afterwards."""
    pg_url = os.environ.get("IDP_TEST_DATABASE_URL")
    if not pg_url:
        return "sqlite:///" + str(tmp / "idp-browser.sqlite3"), lambda: None
    from sqlalchemy import create_engine, text

    schema = f"browser_{os.getpid()}"
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()

    separator = "&" if "?" in pg_url else "?"
    return f"{pg_url}{separator}options=-csearch_path%3D{schema}", drop


# Package scope: the servers and the browser stop when the browser tests are done.
@pytest.fixture(scope="package")
def site(
    smtp_server: tuple[str, int, Mailbox], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    # By name, not by address: a browser refuses passkeys on an IP address (the RP id must be
    # a domain), and the issuer is what the pages and tokens use.
    base = f"http://localhost:{port}"
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
    sfa = urls["submit-for-assessment"]
    database_url, drop_database = _own_database(tmp)
    # The built-in catalogue, with each demo service's tile leading to this run's port for it.
    catalogue = copy.deepcopy(DEFAULT_CATALOGUE)
    by_key = {service.key: name for name, service in SERVICES.items()}
    for service in catalogue["services"]:
        if service["key"] in by_key:
            service["url"] = urls[by_key[service["key"]]] + "/"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_SECRET_KEY": secrets.token_urlsafe(40),
        "IDP_DATABASE_URL": database_url,
        "IDP_OIDC__ISSUER": base,
        "IDP_OIDC__KEYS_DIR": str(tmp / "keys"),
        "IDP_INSTANCE_DIR": str(tmp / "instance"),
        "IDP_CATALOGUE": json.dumps(catalogue),
        "IDP_ACCESS_LOG": "/dev/null",
        "IDP_TESTING": "true",
        "IDP_AUTH__ARGON2_MEMORY_COST": "1024",
        "IDP_AUTH__ARGON2_TIME_COST": "1",
        "IDP_AUTH__NEW_DEVICE_VERIFICATION": "new_device",
        # The role policy only for the Lower Secondary support site's administrators, whom
        # the passkey journey makes (the other journeys' officers sign in as before).
        "IDP_AUTH__PHISHING_RESISTANT_ROLES": "lowersec.admin",
        "IDP_RATE_LIMITS__ENABLED": "false",
        "IDP_MAIL__BACKEND": "smtp",
        "IDP_MAIL__HOST": smtp_server[0],
        "IDP_MAIL__PORT": str(smtp_server[1]),
    }
    (tmp / "instance").mkdir()
    site = Site(base, sfa, smtp_server[2], env, urls, tmp)
    rp = None
    try:
        site.idp("db", "upgrade")
        site.idp("keys", "rotate")
        secret = register_service(site, "submit-for-assessment")
        with idp_serve(env, port, tmp / "idp.log", cwd=tmp, workers=2) as served:
            assert served.rsplit(":", 1)[1] == str(port)
            rp = start_service(site, "submit-for-assessment", secret)
            _wait_for(sfa + "/", rp, tmp / "submit-for-assessment.log")
            yield site
    finally:
        site.close()
        if rp is not None:
            stop(rp)
        drop_database()


def register_service(site: Site, name: str) -> str:
    """Register demo service ``name`` as the operator would (``idp clients create``), as
    ``idp demo`` does: its tile signs people straight in (initiate login URI) and, for a
    service that keeps people's data, it reads the centre's people from the API and is asked
    before anyone is deleted. Returns its secret."""
    url = site.urls[name]
    options = [
        "--name", SERVICES[name].name,
        "--client-id", SERVICES[name].client_id,
        "--redirect-uri", f"{url}/callback",
        "--post-logout-redirect-uri", f"{url}/",
        "--backchannel-logout-uri", f"{url}/backchannel-logout",
        "--initiate-login-uri", f"{url}/initiate-login",
        "--service", SERVICES[name].key,
    ]  # fmt: skip
    if SERVICES[name].key in DATA_HOLDERS:
        options += ["--api-scope", "users.read", "--user-data-uri", f"{url}/user-data"]
    return str(site.idp("clients", "create", *options)["client_secret"])


def start_service(site: Site, name: str, secret: str) -> subprocess.Popen[bytes]:
    """``python -m clients.run <name>`` on its port, speaking to the site's provider; its
    output goes to a log in the site's temporary directory."""
    rp_env = {
        **site.env,
        "RP_ISSUER": site.base,
        "RP_CLIENT_SECRET": secret,
        "RP_PORT": site.urls[name].rsplit(":", 1)[1],
    }
    with open(site.tmp / f"{name}.log", "wb") as log:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "clients.run", name],
            env=rp_env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="package")
def services(site: Site) -> Iterator[dict[str, str]]:
    """Every other demo service (Apply for Access Arrangements, Global Listening, the
    Cambridge Primary support site, OCR Interchange) registered and running on the port its
    tile leads to; yields each one's base URL by name (Submit for Assessment's among them)."""
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in SERVICES:
            if name == "submit-for-assessment":  # runs with the site
                continue
            secret = register_service(site, name)
            started[name] = start_service(site, name, secret)
        for name, process in started.items():
            _wait_for(site.urls[name] + "/", process, site.tmp / f"{name}.log")
        yield site.urls
    finally:
        for process in started.values():
            stop(process)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or listening while its worker still starts
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{url} did not start:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(chromium: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Pages in browsers of their own (separate cookies), closed after the test. When the
    test fails, each page's address and a screenshot are kept in its tmp_path."""
    contexts = []

    def make() -> Any:
        # The pages' CSP applies as it does for everyone (form-action among it); axe-core is
        # evaluated through the DevTools protocol, which the policy does not govern.
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    if request.node.stash.get(FAILED, False):
        for n, context in enumerate(contexts):
            for page in context.pages:
                shot = tmp_path / f"page-{n}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"page {n} was at {page.url}; screenshot: {shot}")
    for context in contexts:
        context.close()
