"""A person's history belongs to where it happened: a centre's audit log shows a member's own
events (their sign-ins) only for the time they were its member; what was done at the centre
stays there after they leave."""

from __future__ import annotations

import re

import pytest

from idp import clock
from idp.domain import management, organisations, suspensions, users
from idp.extensions import db
from idp.models import User, UserOrigin
from tests.factories import PASSWORD
from tests.journeys import location, page_text, sign_in, submit

TINA = "tina@example.org"
TOM = "tom@example.org"


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


@pytest.fixture
def tina(make):
    """A teacher at BB102, not (yet) at AA101."""
    bb102 = make.org("BB102", name="BB Dummy Centre B")
    return make.user(
        TINA, given_name="Tina", family_name="Teacher", org=bb102, roles=("sfa.teacher",)
    )


def _sign_in_from(app, address: str, password: str | None = None) -> None:
    """Tina signs in (or tries to) from a browser at ``address``; a minute passes."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    if password is None:
        assert location(sign_in(browser, TINA)) == "/"
    else:
        sign_in(browser, TINA, password)
    clock.advance(60)


def _join(app, person: User, code: str = "AA101") -> None:
    """AA101 makes the person a member, as the code does today (the membership and its roles)."""
    catalogue = app.extensions["idp.settings"].catalogue
    organisations.set_roles(person, organisations.get_by_code(code), ["sfa.teacher"], catalogue)
    db.session.commit()
    clock.advance(60)


def _leave(app, person: User) -> None:
    """AA101's officer takes the person out of AA101 (they stay at BB102)."""
    catalogue = app.extensions["idp.settings"].catalogue
    management.remove(
        _person("officer@example.org"), organisations.get_by_code("AA101"), person, catalogue
    )
    db.session.commit()
    clock.advance(60)


def _log(browser, query: str = "") -> str:
    response = browser.get(f"/organisation/AA101/audit{query}")
    assert response.status_code == 200
    return page_text(response)


def _rows(html: str) -> list[tuple[str, str, str]]:
    """The log's rows as (event, what happened, IP address), newest first."""
    return [
        tuple(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1:])
        for row in re.findall(r"<tr>\s*<td><time.*?</tr>", html, re.S)
    ]


SIGN_INS = {"Signed in", "Sign-in failed", "Sign-in refused", "Wrong authenticator code"}


def _tinas_sign_ins(html: str) -> list[str]:
    """The IP addresses of Tina's own sign-in events in the log, newest first."""
    return [ip for event, what, ip in _rows(html) if event in SIGN_INS and "Tina Teacher" in what]


def test_a_centre_sees_a_members_sign_ins_only_while_they_are_its_member(
    officer_browser, app, tina
):
    # At BB102 only: a wrong password and a sign-in, from her school's network.
    _sign_in_from(app, "203.0.113.7", "wrong password")
    _sign_in_from(app, "203.0.113.7")

    _join(app, tina)
    html = _log(officer_browser)
    assert "The roles of Tina Teacher are now: Submit for Assessment: Teacher." in html
    assert _tinas_sign_ins(html) == [] and "203.0.113.7" not in html

    # A member: her sign-ins are AA101's to see.
    _sign_in_from(app, "198.51.100.20", "wrong password")
    _sign_in_from(app, "198.51.100.21")
    assert _tinas_sign_ins(_log(officer_browser)) == ["198.51.100.21", "198.51.100.20"]

    # Removed: what she did while a member, and what AA101 did about her, stay; what she does
    # afterwards is not AA101's.
    _leave(app, tina)
    _sign_in_from(app, "192.0.2.99")
    html = _log(officer_browser)
    assert _tinas_sign_ins(html) == ["198.51.100.21", "198.51.100.20"]
    assert "Olga Officer removed Tina Teacher from the organisation." in html
    assert "192.0.2.99" not in html and "203.0.113.7" not in html

    # Back again: only the new period's sign-ins are added.
    _join(app, tina)
    _sign_in_from(app, "192.0.2.150")
    html = _log(officer_browser)
    assert _tinas_sign_ins(html) == ["192.0.2.150", "198.51.100.21", "198.51.100.20"]
    assert "192.0.2.99" not in html and "203.0.113.7" not in html
    # The sign-in filter and the count agree with the rows.
    signins = _log(officer_browser, "?action=sign_in.")
    assert _tinas_sign_ins(signins) == ["192.0.2.150", "198.51.100.21", "198.51.100.20"]


def test_an_officer_who_adds_a_teacher_of_another_centre_learns_nothing_of_their_past(
    officer_browser, app, tina
):
    """The attacker's view: AA101's officer adds BB102's teacher and looks for her history
    (failed sign-ins, the addresses she signs in from), in every filter and date range."""
    _sign_in_from(app, "203.0.113.7", "wrong password")
    _sign_in_from(app, "203.0.113.8", "wrong password")
    _sign_in_from(app, "203.0.113.9")
    before = _log(officer_browser)
    count = re.search(r"(\d+) events?<", before).group(1)

    response = submit(
        officer_browser,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": "Tina",
            "family_name-0": "Teacher",
            "email-0": TINA,
            "roles-0": "sfa.teacher",
            "action": "save",
        },
    )
    assert response.status_code == 200
    _join(app, tina)  # and whatever the page did, she is now a member

    today = clock.now().date().isoformat()
    for query in ("", "?action=sign_in.", "?action=user.", f"?from=2000-01-01&to={today}"):
        html = _log(officer_browser, query)
        assert "203.0.113." not in html, query
        assert "Someone tried to sign in as Tina" not in html, query
        assert "Tina Teacher signed in" not in html, query
    # Not even as a number: the count grew only by AA101's own events about her.
    after = _log(officer_browser, "?action=sign_in.")
    assert re.search(r"(\d+) events?<", after).group(1) == str(
        len(re.findall(r"<tr>\s*<td><time", after))
    )
    assert int(re.search(r"(\d+) events?<", _log(officer_browser)).group(1)) > int(count)


def _person(address: str) -> User:
    return db.session.scalar(
        db.select(User).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": address},
    )


def test_what_was_done_at_the_centre_stays_when_the_account_is_deleted(officer_browser, app, make):
    """An account deleted at the centre: the centre's actions about it stay, told of "a
    deleted account"; the account's own events leave with it."""
    aa101 = organisations.get_by_code("AA101")
    catalogue = app.extensions["idp.settings"].catalogue
    tom = users.create(
        email=TOM,
        given_name="Tom",
        family_name="Teacher",
        password=PASSWORD,
        email_verified=True,
        origin=UserOrigin.INVITATION,
    )
    organisations.set_roles(tom, aa101, ["sfa.teacher"], catalogue)
    db.session.commit()
    clock.advance(60)
    assert location(sign_in(app.test_client(), TOM)) == "/"
    assert "Tom Teacher signed in with password." in _log(officer_browser)
    officer = _person("officer@example.org")
    clock.advance(60)
    suspensions.suspend(officer, aa101, tom, catalogue)
    db.session.commit()
    clock.advance(60)
    assert "Olga Officer suspended Tom Teacher." in _log(officer_browser)
    assert management.remove(officer, aa101, tom, catalogue) is True  # the account goes
    db.session.commit()
    html = _log(officer_browser)
    assert "Tom Teacher" not in html
    assert "a deleted account signed in" not in html.lower()  # its own events left with it
    assert "Olga Officer suspended a deleted account." in html
    assert (
        "Olga Officer deleted an account. Its roles here were: Submit for Assessment: Teacher."
        in html
    )
