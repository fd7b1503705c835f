"""A centre's audit log goes page by page by position (keyset), not by counting rows: walking
older and newer, or jumping to the oldest, shows every event exactly once in the log's order,
however many share a moment, and the count stops at "more than 10,000"."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from idp import clock
from idp.domain import audit, organisations, users
from idp.extensions import db
from idp.models import AuditEvent, MembershipPeriod
from tests.journeys import location, page_text, sign_in

IP = re.compile(r"<td>(10\.\d+\.\d+\.\d+)</td>")


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _fill(rows: list[dict]) -> None:
    db.session.execute(insert(AuditEvent.__table__), rows)
    db.session.commit()


def _event(n: int, at, **fields) -> dict:
    """An event told apart by its source address, 10.x.y.z."""
    return {
        "at": at,
        "action": "user.suspended",
        "actor": "system",
        "target_type": "user",
        "target_id": "",
        "ip": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
        "details": {},
        "organisation_id": None,
        "actor_user_id": None,
        **fields,
    }


def _links(text: str) -> dict[str, str]:
    return {
        rel: html_lib.unescape(href)
        for href, rel in re.findall(r'<a href="([^"]+)" rel="(first|prev|next|last)"', text)
    }


def _count(text: str) -> int:
    return int(re.search(r"(\d+) events?<", text).group(1))


def _walk(browser, start: str, rel: str) -> list[list[str]]:
    pages, url = [], start
    while url:
        text = page_text(browser.get(url))
        pages.append(IP.findall(text))
        url = _links(text).get(rel)
        assert len(pages) < 20
    return pages


def test_older_newer_and_oldest_show_every_event_once_in_order(officer_browser):
    aa101 = organisations.get_by_code("AA101")
    donald = users.find_by_email("donald@example.org")
    joined = db.session.scalar(
        select(MembershipPeriod.started_at).where(
            MembershipPeriod.user_id == donald.id,
            MembershipPeriod.organisation_id == aa101.id,
        )
    )
    start = clock.now() + timedelta(hours=1)
    expected: list[tuple] = []
    rows = []
    for n in range(1, 71):  # the centre's own events, one a minute
        at = start + timedelta(minutes=n)
        rows.append(_event(n, at, organisation_id=aa101.id))
    for n in range(71, 101):  # thirty at one and the same moment: a page ends among them
        rows.append(_event(n, start + timedelta(minutes=35, seconds=30), organisation_id=aa101.id))
    for n in range(101, 141):  # Donald's sign-ins while a member, between the centre's events
        at = start + timedelta(minutes=n - 100, seconds=15)
        rows.append(
            _event(n, at, action="sign_in.succeeded", actor_user_id=donald.id, actor=donald.sub)
        )
    # Never shown: his sign-ins from before he was a member, and another centre's events.
    before = [
        _event(
            n,
            joined - timedelta(days=1, minutes=n),
            action="sign_in.succeeded",
            actor_user_id=donald.id,
            actor=donald.sub,
        )
        for n in range(141, 151)
    ]
    other = organisations.create(
        code="ZZ999",
        name="Elsewhere",
        brand="cambridge-international",
        catalogue=officer_browser.application.extensions["idp.settings"].catalogue,
    )
    db.session.flush()
    elsewhere = [
        _event(n, start + timedelta(minutes=n - 150), organisation_id=other.id)
        for n in range(151, 161)
    ]
    earlier = _count(page_text(officer_browser.get("/organisation/AA101/audit")))
    assert 0 < earlier < 50  # the fixture's own events, all older than these
    _fill(rows + before + elsewhere)
    ids = {r["ip"]: i for i, r in enumerate(rows)}  # insertion order is id order
    expected = [r["ip"] for r in sorted(rows, key=lambda r: (r["at"], ids[r["ip"]]), reverse=True)]

    pages = _walk(officer_browser, "/organisation/AA101/audit", "next")
    shown = [ip for page in pages for ip in page]
    assert shown == expected  # 140 events: 50, 50, 40, each once, newest first
    assert [len(p) for p in pages] == [50, 50, 40]  # and the fixture's events after them

    # Back from the last page by "Newer": the same pages, in reverse.
    last = (
        "/organisation/AA101/audit?"
        + _links(page_text(officer_browser.get("/organisation/AA101/audit")))["last"].split("?", 1)[
            1
        ]
    )
    oldest = IP.findall(page_text(officer_browser.get(last)))
    assert oldest == expected[-(50 - earlier) :]  # the oldest, newest of them first
    back = _walk(officer_browser, last, "prev")
    assert [ip for page in reversed(back) for ip in page] == expected
    text = page_text(officer_browser.get(last))
    assert _count(text) == 140 + earlier
    assert set(_links(text)) == {"first", "prev"}  # the oldest page has nothing older


def test_the_count_stops_at_ten_thousand(officer_browser):
    aa101 = organisations.get_by_code("AA101")
    start = clock.now() + timedelta(hours=1)
    _fill(
        [
            _event(n, start + timedelta(seconds=n), organisation_id=aa101.id)
            for n in range(audit.COUNT_CAP + 5)
        ]
    )
    text = page_text(officer_browser.get("/organisation/AA101/audit"))
    assert "More than 10,000 events" in text
    assert len(IP.findall(text)) == 50
    # Counting stopped there: it read no more than 10,001 index entries.
    assert audit.page(aa101.id, audit.Filter()).total == audit.COUNT_CAP + 1
    # A filter that matches fewer is counted exactly.
    text = page_text(officer_browser.get("/organisation/AA101/audit?action=sign_in."))
    assert _count(text) < 50 and "More than" not in text


def test_the_person_filter_shows_what_they_did_and_what_was_done_to_them_here_only(
    officer_browser, app, make
):
    aa101 = organisations.get_by_code("AA101")
    donald = users.find_by_email("donald@example.org")
    olga = users.find_by_email("officer@example.org")
    stranger = make.user("stranger@example.org", org=make.org("ZZ999"), roles=("sfa.teacher",))
    start = clock.now() + timedelta(hours=1)
    rows = []
    for n in range(1, 61):  # Donald's sign-ins, and the officer's actions about him or herself
        at = start + timedelta(minutes=n)
        if n % 3 == 0:
            rows.append(
                _event(n, at, action="sign_in.succeeded", actor_user_id=donald.id, actor=donald.sub)
            )
        else:
            rows.append(
                _event(
                    n, at, organisation_id=aa101.id, target_id=(donald if n % 3 == 1 else olga).sub
                )
            )
    rows.append(  # the stranger signs in elsewhere
        _event(99, start, action="sign_in.succeeded", actor_user_id=stranger.id, actor=stranger.sub)
    )
    _fill(rows)
    about_donald = [
        r["ip"]
        for r in reversed(rows[:60])
        if r["ip"].endswith(tuple(f".{n}" for n in range(1, 61) if n % 3 != 2))
    ]
    pages = _walk(officer_browser, "/organisation/AA101/audit?person=Donald%40Example.org", "next")
    assert [ip for page in pages for ip in page] == about_donald  # 40: his 20 and 20 about him
    assert [len(p) for p in pages] == [40]

    # Someone who was never here, and an address of no account, show the same: nothing.
    for address in ("stranger@example.org", "nobody@example.org"):
        text = page_text(officer_browser.get(f"/organisation/AA101/audit?person={address}"))
        assert ">No events.</td>" in text and _count(text) == 0


def test_the_export_streams_every_event_once_by_position_and_by_centre(officer_browser, make):
    aa101 = organisations.get_by_code("AA101")
    other = make.org("ZZ998")
    start = clock.now() + timedelta(hours=1)
    same_moment = start + timedelta(minutes=5)
    rows = [_event(n, same_moment, organisation_id=aa101.id) for n in range(1, 8)]
    rows += [
        _event(n, start + timedelta(minutes=n), organisation_id=aa101.id) for n in range(8, 12)
    ]
    rows += [
        _event(n, start + timedelta(minutes=n), organisation_id=other.id) for n in range(12, 15)
    ]
    _fill(rows)
    since = audit.Filter(since=start)
    # Batches of three: a batch ends among the seven events of one moment.
    ips = [e["ip"] for e in audit.stream(since, batch=3, organisation_id=aa101.id)]
    expected = [r["ip"] for r in sorted(rows[:11], key=lambda r: r["at"])]  # stable: id order
    assert ips == expected
    everywhere = [e["ip"] for e in audit.stream(since, batch=3)]
    assert sorted(everywhere) == sorted(r["ip"] for r in rows) and len(everywhere) == 14
