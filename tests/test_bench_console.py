"""The scale benchmark reaches the console as its operator: signed in with the password, then
given in the database what confirming with a passkey leaves (``console_session``); the
console's pages it times answer, or are ones still to come."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask

from bench.scale_console import CONSOLE_PAGES, console_session
from tests.test_bench_population import loaded, sign_in  # noqa: F401  (the fixture)

# Pages another part of the console adds: until they exist, the benchmark skips them.
STILL_TO_COME = ("/console/centres", "/console/people")


def test_the_benchmarks_operator_reaches_every_console_page_it_times(app: Flask, loaded) -> None:  # noqa: F811
    operator = sign_in(app, loaded.operator_email)
    # Signed in with a password only: the console asks for a passkey first.
    assert operator.get("/console/audit").status_code in (302, 303)
    url = app.extensions["idp.settings"].database_url
    console_session(url, loaded.operator_email)
    console_session(url, loaded.operator_email)  # twice: one stand-in passkey, still in
    site = SimpleNamespace(population=loaded, rp=SimpleNamespace(client_id="unknown"))
    for name, target in CONSOLE_PAGES.items():
        path = target(site)
        response = operator.get(path)
        if path.startswith(STILL_TO_COME) and response.status_code == 404:
            continue
        if name == "operator client":  # a client the site registers; here none
            assert response.status_code == 404, name
            continue
        assert response.status_code == 200, (name, response.status_code, response.location)
    page = operator.get(CONSOLE_PAGES["console audit one centre"](site)).get_data(as_text=True)
    assert "No events." not in page
