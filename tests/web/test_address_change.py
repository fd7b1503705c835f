"""An exams officer's change of a member's main email address waits for the link sent to the
new address (idp.domain.address_changes), played by the officer who would take the account."""

from __future__ import annotations

import re
import threading

import pytest

from idp import clock
from idp.domain import address_changes, organisations, users
from idp.errors import LinkInvalid
from idp.extensions import db
from idp.models import AddressChange, AuditEvent, User
from tests.factories import PASSWORD
from tests.journeys import (
    address_change_link,
    confirm_address_change,
    location,
    notice_of,
    page_text,
    sign_in,
    submit,
    temporary_password,
)
from tests.mailbox import links_in, text_of
from tests.oidc_helpers import csrf_token

MALLORY = "mallory@evil.example"  # an address the officer reads
ASKED = "A change of your My Cambridge email address was requested"
CHANGED = "Your My Cambridge email address was changed"


@pytest.fixture
def officer(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _find(address: str) -> User | None:
    db.session.expire_all()
    return users.find_by_email(address)


def _signs_in(client, address: str, password: str = PASSWORD) -> str | None:
    """Where signing in leads, or None when it is refused."""
    response = sign_in(client, address, password)
    return response.headers.get("Location") if response.status_code in (302, 303) else None


def _donald() -> User:
    donald = _find("donald@example.org")
    assert donald is not None
    return donald


def _view(user: User) -> str:
    return f"/organisation/AA101/users/{user.sub}"


def _change(officer, user: User, address: str):
    view = _view(user)
    return submit(officer, f"{view}/email", {"email": address}, page_url=view)


def _changes() -> list[AddressChange]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(AddressChange)))


def test_an_officer_typing_their_own_address_gains_nothing_until_the_link_is_used(
    app, officer, mailbox
):
    donald = _donald()
    _change(officer, donald, MALLORY)

    # The account still answers only to its proven address.
    assert _find(MALLORY) is None and _donald().email == "donald@example.org"
    assert location(sign_in(app.test_client(), "donald@example.org")) == "/"
    assert _signs_in(app.test_client(), MALLORY) is None
    submit(app.test_client(), "/password/forgot", {"email": MALLORY})
    view = _view(donald)
    submit(
        officer, f"{view}/password", {"confirm": "yes"}, page_url=view
    )  # the officer's own reset
    mailbox.wait_for("donald@example.org", "Reset your My Cambridge password")
    assert [str(m["Subject"]) for m in mailbox.to(MALLORY)] == [
        "Confirm your new My Cambridge email address"
    ]
    # The real person was told at once: who asked, and how to stop it.
    notice = text_of(mailbox.wait_for("donald@example.org", ASKED))
    assert "Olga Officer of AA Dummy Centre A (CIC)" in notice and MALLORY in notice
    assert "cancel the change on Account > Personal info" in notice
    page = page_text(officer.get(view))
    assert f"Change to <strong>{MALLORY}</strong> waiting for confirmation" in page

    # Opening the link (as a mail scanner would) changes nothing: a button confirms.
    assert location(app.test_client().get(address_change_link(mailbox, MALLORY))) == (
        "/email-change/confirm"
    )
    assert _find(MALLORY) is None
    # Only the link read at the new address makes the change; both addresses hear of it.
    done = confirm_address_change(app.test_client(), mailbox, MALLORY)
    assert done.status_code == 200 and "is now the main email address" in page_text(done)
    assert _find(MALLORY).sub == donald.sub and _find("donald@example.org") is None
    assert _find(MALLORY).primary_email.verified
    mailbox.wait_for("donald@example.org", CHANGED)
    mailbox.wait_for(MALLORY, CHANGED)
    assert "waiting for confirmation" not in page_text(officer.get(view))


def _normalised(page: str, address: str) -> str:
    """The page without what differs between any two answers: the address typed, and the CSRF
    token's signature (its timestamp is the wall clock's)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "CSRF", page.replace(address, "ADDRESS"))


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_notice(
    app, officer, make, centre, mailbox
):
    clock.freeze()
    make.user("olive@example.org", given_name="Olive", family_name="Other")
    donald = _donald()
    view = _view(donald)
    answers = {}
    for address in ("free@example.org", "olive@example.org"):
        mailbox.clear()
        response = _change(officer, donald, address)
        after = officer.get(location(response))
        answers[address] = (
            response.status_code,
            location(response),
            _normalised(page_text(after), address),
            sorted(str(m["To"]) == address for m in mailbox.messages),
        )
        assert notice_of(page_text(after)).startswith(
            f"We have sent a link to {address} to confirm the change."
        )
        if address == "free@example.org":
            link = address_change_link(mailbox, address)
            submit(officer, f"{view}/email/cancel", {}, page_url=view)
    assert answers["free@example.org"] == answers["olive@example.org"]

    # The owner of the taken address was told, and sent no link; their account is untouched.
    assert "/email-change/" not in "".join(
        "".join(links_in(m)) for m in mailbox.to("olive@example.org")
    )
    mailbox.wait_for("olive@example.org", "Someone tried to add your email address")
    olive = _find("olive@example.org")
    assert olive.given_name == "Olive" and [e.address for e in olive.emails] == [
        "olive@example.org"
    ]
    # Nothing changed for Donald, and what waits can never be confirmed: its link was never
    # sent. The audit log reads the same for both requests.
    assert _donald().email == "donald@example.org"
    assert app.test_client().get(link).status_code == 410  # the free one, cancelled
    requested = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "management.email_change_requested")
    ).all()
    assert [sorted((e.details or {}).keys()) for e in requested] == [["after"], ["after"]]


def test_the_change_is_not_made_when_the_address_was_taken_meanwhile(app, officer, make, mailbox):
    _change(officer, _donald(), "late@example.org")
    link = address_change_link(mailbox, "late@example.org")
    make.user("late@example.org", given_name="Lena", family_name="Late")
    browser = app.test_client()
    assert location(browser.get(link)) == "/email-change/confirm"
    refused = submit(browser, "/email-change/confirm", {})
    assert refused.status_code == 410
    assert "now belongs to another account" in page_text(refused)
    assert _donald().email == "donald@example.org"
    assert _find("late@example.org").given_name == "Lena"
    assert _changes() == []  # the link is spent


def test_a_link_works_once_only_before_it_expires_and_while_the_change_stands(
    app, officer, mailbox
):
    donald = _donald()
    view = _view(donald)

    # Used: the second time it is refused.
    _change(officer, donald, "d1@example.org")
    link = address_change_link(mailbox, "d1@example.org")
    confirm_address_change(app.test_client(), mailbox, "d1@example.org")
    assert app.test_client().get(link).status_code == 410

    # Tampered with.
    _change(officer, donald, "d2@example.org")
    link = address_change_link(mailbox, "d2@example.org")
    token = link.rpartition("/")[2]
    tampered = link[: -len(token)] + ("A" if token[0] != "A" else "B") + token[1:]
    assert app.test_client().get(tampered).status_code == 410

    # Replaced by a later change: only the later link works.
    _change(officer, donald, "d3@example.org")
    assert app.test_client().get(link).status_code == 410

    # Cancelled by the officer.
    link = address_change_link(mailbox, "d3@example.org")
    cancelled = submit(officer, f"{view}/email/cancel", {}, page_url=view)
    assert "has been cancelled" in notice_of(page_text(officer.get(location(cancelled))))
    assert app.test_client().get(link).status_code == 410

    # Expired (the injected clock): refused, and no longer shown as waiting.
    clock.freeze()
    _change(officer, donald, "d4@example.org")
    link = address_change_link(mailbox, "d4@example.org")
    browser = app.test_client()
    assert location(browser.get(link)) == "/email-change/confirm"
    page = browser.get("/email-change/confirm")  # opened in time, confirmed too late
    clock.advance(app.extensions["idp.settings"].auth.address_change_ttl + 1)
    late = browser.post("/email-change/confirm", data={"csrf_token": csrf_token(page)})
    assert late.status_code == 410
    assert "waiting for confirmation" not in page_text(officer.get(view))
    assert _find("d1@example.org").sub == donald.sub


def test_the_person_can_cancel_a_change_they_did_not_expect(app, officer, mailbox):
    _change(officer, _donald(), MALLORY)
    link = address_change_link(mailbox, MALLORY)
    person = app.test_client()
    assert location(sign_in(person, "donald@example.org")) == "/"
    page = page_text(person.get("/account/personal"))
    assert "Your exams officer asked to change your main email address" in page
    submit(person, "/account/emails/change/cancel", {}, page_url="/account/personal")
    assert app.test_client().get(link).status_code == 410
    assert "asked to change your main" not in page_text(person.get("/account/personal"))
    assert _donald().email == "donald@example.org"


def test_two_uses_of_one_link_at_once_make_one_change(app, officer, mailbox):
    """Both uses find the change; only the one that deletes its row goes on."""
    _change(officer, _donald(), "both@example.org")
    token = address_change_link(mailbox, "both@example.org").rpartition("/")[2]
    ttl = 3600
    change = address_changes.for_link(token)  # the first use has found it ...
    results: list[object] = []

    def other_use() -> None:  # ... when the second, in another request, finishes
        with app.app_context():
            results.append(
                address_changes.confirm(address_changes.for_link(token), invitation_ttl=ttl)
            )
            db.session.commit()

    thread = threading.Thread(target=other_use)
    thread.start()
    thread.join()
    assert len(results) == 1
    with pytest.raises(LinkInvalid):
        address_changes.confirm(change, invitation_ttl=ttl)
    db.session.rollback()
    assert len(mailbox.to("donald@example.org")) == 2  # asked, then changed: once
    assert len([m for m in mailbox.to("both@example.org") if CHANGED in str(m["Subject"])]) == 1


def test_a_never_activated_account_stops_its_invitation_and_gets_one_at_the_proved_address(
    app, officer, make, centre, mailbox
):
    invited = make.invited("wrnog@example.org", org=centre, roles=("sfa.teacher",))
    old_temporary = temporary_password(mailbox, "wrnog@example.org")
    _change(officer, invited, "right@example.org")
    # Whoever reads the mistyped address can no longer use the invitation, nor reset.
    assert _signs_in(app.test_client(), "wrnog@example.org", old_temporary) is None
    submit(app.test_client(), "/password/forgot", {"email": "wrnog@example.org"})
    view = _view(invited)
    refused = submit(officer, f"{view}/invitation", {}, page_url=view)
    assert "waiting for confirmation" in notice_of(page_text(officer.get(location(refused))))
    assert not [m for m in mailbox.to("wrnog@example.org") if "Reset" in str(m["Subject"])]
    assert len(mailbox.to("wrnog@example.org")) == 2  # the invitation, then the notice

    done = confirm_address_change(app.test_client(), mailbox, "right@example.org")
    assert "We have sent your invitation" in page_text(done)
    temporary = temporary_password(mailbox, "right@example.org")
    assert location(sign_in(app.test_client(), "right@example.org", temporary)) == (
        "/login/set-password"
    )
    assert _find("wrnog@example.org") is None


def test_the_persons_own_new_address_counts_only_once_its_code_is_entered(
    app, client, centre, mailbox
):
    assert location(sign_in(client, "donald@example.org")) == "/"
    submit(
        client,
        "/account/emails/add",
        {"email": MALLORY, "current_password": PASSWORD},
        page_url="/account/personal",
    )
    assert _find(MALLORY) is None
    assert _signs_in(app.test_client(), MALLORY) is None
    assert re.search(r"\b\d{6}\b", text_of(mailbox.wait_for(MALLORY, "verification code")))


def test_a_link_is_refused_once_the_person_has_come_to_hold_office(app, officer, mailbox):
    """Asked while Donald was a teacher; he is given User Management before the link is used:
    from then on only he changes his address."""
    donald = _donald()
    _change(officer, donald, MALLORY)
    view = _view(donald)
    submit(officer, f"{view}/roles", {"roles": ["sfa.teacher", "user_management"]}, page_url=view)
    browser = app.test_client()
    assert location(browser.get(address_change_link(mailbox, MALLORY))) == "/email-change/confirm"
    refused = submit(browser, "/email-change/confirm", {})
    assert refused.status_code == 410 and "only they can change" in page_text(refused)
    assert _find(MALLORY) is None and _donald().email == "donald@example.org"


@pytest.mark.parametrize("case", ["self", "belongs elsewhere", "another centre's officer"])
def test_who_may_not_ask_for_a_change(app, client, make, centre, mailbox, case):
    """Nobody changes their own address here; nobody changes that of someone who also belongs
    to a centre they do not manage; another centre's officer cannot reach the member at all."""
    other = make.org("ZZ900", name="Other centre")
    make.exams_officer(other, "o2@example.org")
    donald = _donald()
    target, signed_in = donald, "officer@example.org"
    if case == "self":
        target = _find("officer@example.org")
    elif case == "belongs elsewhere":
        organisations.set_roles(donald, other, {"sfa.teacher"}, make.catalogue)
        db.session.commit()
    else:
        signed_in = "o2@example.org"
    assert location(sign_in(client, signed_in)) == "/"
    view = _view(target)
    token = csrf_token(client.get("/account/personal"))
    mailbox.clear()
    asked = client.post(f"{view}/email", data={"csrf_token": token, "email": MALLORY})
    if case == "another centre's officer":
        assert asked.status_code == 404
    else:
        notice = notice_of(page_text(client.get(location(asked))))
        assert ("your own email address" if case == "self" else "only they can") in notice
    assert _changes() == [] and [m["To"] for m in mailbox.messages] == []
