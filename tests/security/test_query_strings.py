"""The query string is the client's to write (ASVS 5.0 V1.2): every page, asked with its own
path parameters' names repeated in the query (``/organisation/AA101/users?code=x``), with
``lang``, ``next`` and junk, answers as it would without them, never with a 500."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from werkzeug.routing import Rule

from tests import routes
from tests.journeys import location, sign_in
from tests.passkeys import ready_for_console

# Printable or not, markup, a template expression, a broken escape, a line break: no NUL,
# which the app refuses at the door (setup_input_guard).
JUNK = "\u202e<b>'\"{{7*7}}%ff\r\n" + "é" * 40


@pytest.fixture
def overrides(overrides):
    overrides["UPSTREAM"] = [routes.UPSTREAM]
    return overrides


def crafted_query(rule: Rule) -> str:
    """Each of the rule's path parameters twice (a plain value and junk), then the language
    switch, a ``next`` to another site and a parameter nobody reads."""
    repeated = [(name, value) for name in sorted(rule.arguments) for value in ("x", JUNK)]
    return urlencode([*repeated, ("lang", "es"), ("next", "//evil.example/"), ("junk", JUNK)])


def test_no_query_string_gets_a_500_on_any_page(app, make):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an error is a 500 answer, as in production
    site = routes.build_site(make)
    browsers = {"signed out": app.test_client()}
    browsers["exams officer"] = app.test_client()
    assert location(sign_in(browsers["exams officer"], site.officer.email)) == "/"
    browsers["operator"] = app.test_client()
    ready_for_console(browsers["operator"], site.operator.email)

    failures = []
    for rule in routes.rules(app, {"GET"}):
        for path in routes.paths(rule, site.values):
            url = f"{path}?{crafted_query(rule)}"
            asked = f"GET {path}?{'&'.join(sorted(rule.arguments))}&lang&next&junk"
            for who, browser in browsers.items():
                try:
                    status = browser.get(url).status_code
                except Exception as exc:  # raised by an error handler: the server answers 500
                    failures.append(f"{who}: {asked} -> {exc!r}")
                    continue
                if status >= 500:
                    failures.append(f"{who}: {asked} -> {status}")
    assert not failures, "\n".join(failures)
    # The signed-in walks were signed in to the end.
    assert browsers["exams officer"].get(f"/organisation/{routes.CENTRE}/users").status_code == 200
    assert browsers["operator"].get("/operator/clients").status_code == 200
