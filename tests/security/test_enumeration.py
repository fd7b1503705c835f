"""No account enumeration (ASVS 5.0 V6.3.8; OWASP WSTG-IDNT-04): sign-in, forgotten password
and self sign-up answer the same and take the same time whether or not an account exists.

The time is compared against the cost that would give an account away: one password hash,
measured here with the same settings. Known and unknown tries are interleaved, so drift in the
machine's speed touches both; the medians must differ by well under one hash.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest

from idp.extensions import db
from tests.factories import PASSWORD
from tests.oidc_helpers import csrf_token

PAIRS = 50
# A fraction of one hash: a leak (a skipped hash) differs by a whole one.
TOLERANCE = 0.35


@pytest.fixture
def timed_app(make_app, overrides, make):
    """Hashing at the production cost (OWASP's 19 MiB, 2 passes): what an attacker times."""
    overrides["AUTH"] = {**overrides["AUTH"], "ARGON2_MEMORY_COST": 19456, "ARGON2_TIME_COST": 2}
    app = make_app(overrides)
    user = make.user("known@example.org")
    # The account's hash made with these settings, as every hash in production is.
    user.password_hash = app.extensions["idp.passwords"].hash(PASSWORD)
    db.session.commit()
    return app


def _one_hash(app) -> float:
    hasher = app.extensions["idp.passwords"]
    stored = hasher.hash("some password or other")
    times = []
    for _ in range(15):
        start = time.perf_counter()
        hasher.verify(stored, "a wrong password")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _compare(send_known, send_unknown) -> tuple[float, list, list]:
    known, unknown, answers_known, answers_unknown = [], [], [], []
    for n in range(PAIRS):
        # Alternate which goes first, so neither always meets a warm cache.
        order = [(send_known, known, answers_known), (send_unknown, unknown, answers_unknown)]
        for send, times, answers in order if n % 2 else order[::-1]:
            start = time.perf_counter()
            answers.append(send(n))
            times.append(time.perf_counter() - start)
    difference = abs(statistics.median(known) - statistics.median(unknown))
    return difference, answers_known, answers_unknown


def _page(response) -> str:
    """The page without what differs on every request anyway (CSRF tokens, nonces)."""
    text = response.get_data(as_text=True)
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return re.sub(r'nonce="[^"]+"', "", text)


def _post(browser, url: str, token: str, **form: str):
    # Unbuffered: the response returns before work deferred past it (mail), as in production.
    return browser.post(url, data={"csrf_token": token, **form}, buffered=False)


def test_sign_in_takes_as_long_for_an_unknown_address(timed_app):
    browser = timed_app.test_client()
    token = csrf_token(browser.get("/login"))
    difference, known, unknown = _compare(
        lambda n: _post(browser, "/login", token, email="known@example.org", password="wrong!"),
        lambda n: _post(browser, "/login", token, email="unknown@example.org", password="wrong!"),
    )
    floor = _one_hash(timed_app)
    assert {r.status_code for r in known + unknown} == {200}
    assert _page(known[0]).replace("known@", "X@") == _page(unknown[0]).replace("unknown@", "X@")
    assert difference < TOLERANCE * floor, (difference, floor)


def test_forgotten_password_answers_the_same(timed_app):
    browser = timed_app.test_client()
    token = csrf_token(browser.get("/password/forgot"))
    difference, known, unknown = _compare(
        lambda n: _post(browser, "/password/forgot", token, email="known@example.org"),
        lambda n: _post(browser, "/password/forgot", token, email="unknown@example.org"),
    )
    floor = _one_hash(timed_app)
    assert _page(known[0]).replace("known@", "X@") == _page(unknown[0]).replace("unknown@", "X@")
    assert difference < TOLERANCE * floor, (difference, floor)


def test_sign_up_with_a_taken_address_looks_like_a_new_one(timed_app):
    def sign_up(email: str):
        browser = timed_app.test_client()
        token = csrf_token(browser.get("/signup"))
        form = {
            "given_name": "Sam",
            "family_name": "Smith",
            "email": email,
            "password": "a long enough passphrase for us",
            "confirm_password": "a long enough passphrase for us",
        }
        return _post(browser, "/signup", token, **form)

    difference, known, unknown = _compare(
        lambda n: sign_up("known@example.org"), lambda n: sign_up(f"new{n}@example.org")
    )
    floor = _one_hash(timed_app)
    assert {r.headers.get("Location") for r in known + unknown} == {"/login/verify"}
    assert difference < TOLERANCE * floor, (difference, floor)
