"""No account enumeration (ASVS 5.0 V6.3.8; OWASP WSTG-IDNT-04): sign-in, forgotten password
and self sign-up answer the same and take the same time whether or not an account exists.

The time is compared against the cost that would give an account away: one password hash,
measured here with the same settings, in the same rounds as the tries. Each round times a try
with an account and one without back to back, so drift in the machine's speed touches both;
the median of the rounds' differences must be well under one hash.
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


def _compare(app, send_known, send_unknown) -> tuple[float, float, list, list]:
    """Time ``PAIRS`` rounds of a try with an account, one without and one password hash (the
    cost a leak would show), in alternating order. Returns the median of the paired
    differences, the median hash and the answers.

    Each round's two tries run back to back, so a busy neighbour slows both alike; the median
    of the per-round differences ignores the rounds it hit one of them, and the hash it is
    compared with is measured in the same rounds, so it slows with the machine too. A skipped
    hash shifts every round by a whole hash, which no neighbour can hide."""
    hasher = app.extensions["idp.passwords"]
    stored = hasher.hash("some password or other")
    differences, hashes, answers_known, answers_unknown = [], [], [], []
    for n in range(PAIRS):
        took = {}
        steps = [
            ("known", lambda n=n: answers_known.append(send_known(n))),
            ("unknown", lambda n=n: answers_unknown.append(send_unknown(n))),
            ("hash", lambda: hasher.verify(stored, "a wrong password")),
        ]
        # Rotate the order, so that none always meets a warm cache.
        for name, step in steps[n % 3 :] + steps[: n % 3]:
            start = time.perf_counter()
            step()
            took[name] = time.perf_counter() - start
        differences.append(took["known"] - took["unknown"])
        hashes.append(took["hash"])
    return (
        abs(statistics.median(differences)),
        statistics.median(hashes),
        answers_known,
        answers_unknown,
    )


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
    difference, floor, known, unknown = _compare(
        timed_app,
        lambda n: _post(browser, "/login", token, email="known@example.org", password="wrong!"),
        lambda n: _post(browser, "/login", token, email="unknown@example.org", password="wrong!"),
    )
    assert {r.status_code for r in known + unknown} == {200}
    assert _page(known[0]).replace("known@", "X@") == _page(unknown[0]).replace("unknown@", "X@")
    assert difference < TOLERANCE * floor, (difference, floor)


def test_forgotten_password_answers_the_same(timed_app):
    browser = timed_app.test_client()
    token = csrf_token(browser.get("/password/forgot"))
    difference, floor, known, unknown = _compare(
        timed_app,
        lambda n: _post(browser, "/password/forgot", token, email="known@example.org"),
        lambda n: _post(browser, "/password/forgot", token, email="unknown@example.org"),
    )
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

    difference, floor, known, unknown = _compare(
        timed_app, lambda n: sign_up("known@example.org"), lambda n: sign_up(f"new{n}@example.org")
    )
    assert {r.headers.get("Location") for r in known + unknown} == {"/login/verify"}
    assert difference < TOLERANCE * floor, (difference, floor)
