"""The audit log speaks plain language: a sentence per event, people and roles by name, how a
sign-in was proved, "a deleted account", readable dates; no action keys, role keys, subject
identifiers or raw details anywhere on the page, in English or Spanish."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pyotp
import pytest

from idp import clock
from idp.domain import audit, management, organisations, suspensions, totp, users
from idp.extensions import db
from idp.models import AuditEvent, User, UserOrigin
from idp.web import audit_sentences
from tests.factories import PASSWORD
from tests.journeys import location, page_text, sign_in, submit
from tests.mailbox import code_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def overrides(overrides):
    overrides["AUTH"]["NEW_DEVICE_VERIFICATION"] = "new_device"
    return overrides


def _person(address: str) -> User:
    return db.session.scalar(
        db.select(User).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": address},
    )


def _sign_in_with_code(browser, mailbox, address: str, subject: str = "verification code") -> None:
    assert location(sign_in(browser, address)) == "/login/verify"
    code = code_in(mailbox.wait_for(address, subject))
    assert location(submit(browser, "/login/verify", {"code": code})) == "/"
    clock.advance(60)


@pytest.fixture
def officer_browser(client, centre, mailbox):
    _sign_in_with_code(client, mailbox, "officer@example.org")
    return client


class _Text(HTMLParser):
    """The page as a reader sees it: the text of ``<main>``, without tags or attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _visible(html: str) -> str:
    main = html[html.index("<main") : html.index("</main>")]
    parser = _Text()
    parser.feed(main)
    return " ".join(" ".join(parser.parts).split())


def _no_raw_keys(text: str) -> None:
    subs = set(db.session.scalars(db.select(User.sub)))
    assert not [s for s in subs if s in text]
    for raw in ("sign_in.", "management.", "membership.", "user.", "sfa.", "aa.", "gl.", "amr"):
        assert raw not in text, raw
    for raw in ("pwd", "otp", "emailed_code", "before:", "after:", "roles:", "{", "[", "u_"):
        assert raw not in text, raw


def test_sign_ins_say_how_the_person_proved_who_they_were(
    officer_browser, app, make, centre, mailbox
):
    tina = make.user(
        "tina@example.org",
        given_name="Tina",
        family_name="Teacher",
        org=centre,
        roles=("sfa.teacher",),
    )
    generator = pyotp.TOTP(totp.new_secret())
    totp.enable(tina, generator.secret, generator.at(clock.timestamp() - 30))
    db.session.commit()
    clock.advance(60)
    # Donald on a new browser: password and an emailed code.
    _sign_in_with_code(app.test_client(), mailbox, "donald@example.org")
    # Tina: a wrong authenticator code, then the right one.
    browser = app.test_client()
    assert location(sign_in(browser, "tina@example.org")) == "/login/authenticator"
    submit(browser, "/login/authenticator", {"code": "000000"})
    clock.advance(30)
    right = submit(browser, "/login/authenticator", {"code": generator.at(clock.timestamp())})
    assert location(right) == "/"
    clock.advance(60)
    # A wrong password for Donald.
    sign_in(app.test_client(), "donald@example.org", "not his password")

    html = page_text(officer_browser.get("/organisation/AA101/audit"))
    text = _visible(html)
    assert "Someone tried to sign in as Donald Duck with a wrong password." in text
    assert "Tina Teacher signed in with password and authenticator app." in text
    assert "A wrong authenticator code was entered while signing in as Tina Teacher." in text
    assert "Donald Duck signed in with password and emailed code." in text
    assert "Olga Officer signed in with password and emailed code." in text
    # Readable dates, in the reader's time zone's words (UTC), machine-readable underneath.
    today = clock.now()
    assert f"{today.day} {today:%B %Y}, " in text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    _no_raw_keys(text)


def test_roles_by_name_and_accounts_gone_as_a_deleted_account(officer_browser, app, make, centre):
    catalogue = make.catalogue
    officer, donald = _person("officer@example.org"), _person("donald@example.org")
    view = f"/organisation/AA101/users/{donald.sub}"
    submit(
        officer_browser,
        f"{view}/roles",
        {"roles": ["sfa.exams_officer", "aa.nominated_user"]},
        page_url=view,
    )
    tom = users.create(
        email="tom@example.org",
        given_name="Tom",
        family_name="Teacher",
        password=PASSWORD,
        email_verified=True,
        origin=UserOrigin.INVITATION,
    )
    organisations.set_roles(tom, centre, ["sfa.teacher"], catalogue)
    suspensions.suspend(officer, centre, tom, catalogue)
    db.session.commit()
    management.remove(officer, centre, tom, catalogue)
    # An event of a kind with no sentence of its own reads as its label, by and about whom.
    audit.record(
        "user.password_changed",
        actor=donald,
        target_type="user",
        target_id=donald.sub,
        organisation_id=centre.id,
        secret_detail="sfa.hidden",
    )
    db.session.commit()

    text = _visible(page_text(officer_browser.get("/organisation/AA101/audit")))
    assert "Olga Officer changed the roles of Donald Duck." in text
    assert (
        "The roles of Donald Duck are now: Access Arrangements Nominated User, Submit for"
        " Assessment: Exams Officer. Before: Submit for Assessment: Teacher." in text
    )
    assert "Olga Officer suspended a deleted account." in text
    assert "The roles of a deleted account are now: Submit for Assessment: Teacher." in text
    assert (
        "Olga Officer deleted an account. Its roles here were: Submit for Assessment: Teacher."
        in text
    )
    assert "Password changed: by Donald Duck, about Donald Duck." in text
    assert "Tom Teacher" not in text
    _no_raw_keys(text)


def test_the_log_in_spanish(client, centre, mailbox, app):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    _sign_in_with_code(client, mailbox, "officer@example.org", "código de verificación")
    donald = _person("donald@example.org")
    view = f"/organisation/AA101/users/{donald.sub}"
    submit(client, f"{view}/roles", {"roles": ["sfa.exams_officer"]}, page_url=view)
    sign_in(app.test_client(), "donald@example.org", "not his password")
    text = _visible(page_text(client.get("/organisation/AA101/audit")))
    assert (
        "Olga Officer inició sesión con contraseña y un código enviado por correo electrónico."
        in text
    )
    assert "Olga Officer cambió los roles de Donald Duck." in text
    assert "Alguien intentó iniciar sesión como Donald Duck con una contraseña incorrecta." in text
    assert f"{clock.now().day} de " in text and "Dirección IP" in text
    _no_raw_keys(text)


def test_an_event_recorded_before_this_release_still_reads(officer_browser, centre):
    """Details of an unexpected shape (an older release's, a hand-made row) never show raw."""
    db.session.add(
        AuditEvent(
            at=clock.now(),
            action="membership.roles_set",
            actor="system",
            target_type="user",
            target_id="u_no_such_person",
            organisation_id=centre.id,
            details={"before": "sfa.teacher", "after": ["no.such_role"]},
        )
    )
    db.session.commit()
    text = _visible(page_text(officer_browser.get("/organisation/AA101/audit")))
    assert (
        "The roles of a deleted account are now: a role no longer offered. Before: no roles."
        in text
    )
    _no_raw_keys(text)


# -- every event a centre can see has words ------------------------------------------------------


def _recorded() -> list[tuple[str, bool, str]]:
    """(action, names an organisation, where) for every ``audit.record``/``_audit`` call in
    idp/ whose action is written out (both branches of a conditional count)."""
    found = []
    for path in sorted((ROOT / "idp").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = ast.unparse(node.func)
            if name not in ("audit.record", "record", "_audit", "staff.record"):
                continue
            at_centre = name == "_audit" or any(k.arg == "organisation_id" for k in node.keywords)
            if name == "staff.record":
                # A console action: staff.record(actor, "what", ...) records "staff.what".
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append((f"staff.{node.args[1].value}", at_centre, where))
                continue
            if isinstance(node.args[0], ast.JoinedStr):
                continue  # an action made up by its caller (staff.record), found there
            for constant in ast.walk(node.args[0]):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append((constant.value, at_centre, where))
    return found


def test_every_event_a_centre_can_see_has_a_sentence():
    recorded = _recorded()
    assert len(recorded) > 30  # the scan finds the calls
    missing = [
        (action, where)
        for action, at_centre, where in recorded
        if (at_centre or action in audit.OWN_EVENTS) and action not in audit_sentences.SENTENCES
    ]
    assert missing == []
    assert all(action in audit_sentences.LABELS for action in audit_sentences.SENTENCES)


def test_every_kind_of_sign_in_is_a_members_own_event():
    """A new kind of sign-in event shows in centres' logs (within membership) or the test says
    so: it is not silently left out."""
    sign_ins = {action for action, _, _ in _recorded() if action.startswith("sign_in.")}
    assert sign_ins == set(audit.OWN_EVENTS)
