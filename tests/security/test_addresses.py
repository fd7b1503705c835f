"""Addresses are validated by email-validator: wherever an address enters — *Add user(s)*, the
CSV import, *Create an account*, adding an address, an officer's change of address, the CLI —
it is one plain mailbox in one stored form, or it is refused and nothing is written.

The regular expression this replaced let mail-header syntax through: ``Tom<tom@example.org>``
was a second account on Tom's mailbox, ``a,b@evil.test`` would have mailed two people, and
``ana@xn--bcher-kva.example`` was another account than ``ana@bücher.example``. An
internationalised domain is kept in its ASCII form, so mail to it needs no SMTPUTF8 relay.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from idp.domain import users
from idp.errors import Conflict, InvalidInput
from idp.extensions import db
from idp.models import EmailAddress, User
from tests.factories import PASSWORD
from tests.journeys import (
    confirm_address_change,
    error_of,
    location,
    notice_of,
    page_text,
    sign_in,
    submit,
    upload_csv,
)
from tests.oidc_helpers import csrf_token

MESSAGE = "Enter an email address in the correct format, like name@example.org."

# 260 characters: the pages used to cut an address field at 254, which made this a valid one.
TOO_LONG = "a" * 64 + "@" + ".".join(("b" * 63, "c" * 63, "d" * 63, "org"))

# Not an address, each for its reason: refused with MESSAGE wherever it is typed.
BAD = {
    # The old expression let these through.
    "display name": "Tom<tom@example.org>",
    "quoted display name": '"Tom"<tom@example.org>',
    "a list": "a,b@evil.test",
    "a dot at the end": "tom@example.org.",
    "quoted local part": '"tom"@example.org',
    "domain literal": "tom@[127.0.0.1]",
    "an invisible space": "tom\u200b@example.org",
    "a control character": "tom\x1b@example.org",
    "a domain label over 63": "tom@" + "a" * 64 + ".org",
    "a reserved domain": "tom@printer.local",
    # It refused these too; they stay refused.
    "quoted display name and a space": '"Tom" <tom@example.org>',
    "two @-signs": "a@b@example.org",
    "a space": "tom @example.org",
    "a new header": "tom@example.org\nBcc: eve@evil.test",
    "65 characters before the @": "a" * 65 + "@example.org",
    "over 254 characters": TOO_LONG,
}

# Addresses, and the one form each is stored and looked up in.
GOOD = [
    ("jane.o'neil@example.org", "jane.o'neil@example.org"),
    ("JANE@Example.ORG", "jane@example.org"),
    ("ana@bücher.example", "ana@xn--bcher-kva.example"),
    ("ANA@Bücher.Example", "ana@xn--bcher-kva.example"),
    ("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example"),
    # A non-ASCII mailbox name needs SMTPUTF8 anyway: kept in Unicode.
    ("Ünal@Bücher.Example", "ünal@bücher.example"),
    ("tom@school.test", "tom@school.test"),
]


def _stored() -> set[str]:
    return set(db.session.scalars(db.select(EmailAddress.address)))


def _refused_everywhere(attempt) -> None:
    """``attempt(address)`` says whether the address was refused; none may get through, and
    nothing may be written."""
    before = _stored()
    through = [reason for reason, address in BAD.items() if not attempt(address)]
    assert through == []
    assert _stored() == before


# -- the one gate -------------------------------------------------------------------------------


@pytest.mark.parametrize("address", BAD.values(), ids=BAD.keys())
def test_not_an_address_is_refused(app, address):
    with pytest.raises(InvalidInput) as refused:
        users.normalise_email(address)
    assert str(refused.value) == MESSAGE
    with pytest.raises(InvalidInput):
        users.create(email=address, given_name="Tom", family_name="Teacher")
    assert _stored() == set()


@pytest.mark.parametrize(("address", "stored"), GOOD)
def test_an_address_is_kept_in_one_form(app, address, stored):
    assert users.normalise_email(address) == stored
    assert users.normalise_email(stored) == stored
    user = users.create(email=address, given_name="Ana", family_name="Alves")
    assert user.email == stored
    assert users.find_by_email(address) is user


def test_the_ascii_form_of_a_domain_is_the_same_mailbox(make):
    ana = make.user("ana@bücher.example")
    assert users.find_by_email("ANA@xn--BCHER-kva.example") is ana
    with pytest.raises(Conflict):
        users.create(email="ana@xn--bcher-kva.example", given_name="Eve", family_name="Evil")


@pytest.mark.parametrize(
    "kept",
    ["ana@bücher.example", "teacher@school.local", "a..b@example.org"],
    ids=["a Unicode domain", "a local domain", "two dots in a row"],
)
def test_an_account_stored_by_an_earlier_release_is_still_found_and_still_taken(client, make, kept):
    """Earlier releases stored the trimmed, lower-cased text, and let through some addresses
    email-validator refuses: such an account still signs in, is still found for a reset, and
    its address cannot be taken by a new account in another form."""
    user = make.user("kept@example.org")
    db.session.execute(
        db.update(EmailAddress).where(EmailAddress.user_id == user.id).values(address=kept)
    )
    db.session.commit()
    assert users.find_by_email(kept.upper()) is user
    assert location(sign_in(client, kept.upper())) == "/"
    if kept == "ana@bücher.example":
        with pytest.raises(Conflict):
            users.create(email="ana@xn--bcher-kva.example", given_name="Eve", family_name="Evil")


# -- every way in -------------------------------------------------------------------------------


@pytest.fixture
def centre(make):
    aa101 = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(aa101)
    make.user("donald@example.org", org=aa101, roles=("sfa.teacher",))
    return aa101


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _add_user(browser, address: str):
    form = {
        "rows": "1",
        "given_name-0": "Tom",
        "family_name-0": "Teacher",
        "email-0": address,
        "roles-0": "sfa.teacher",
        "action": "save",
    }
    return submit(browser, "/organisation/AA101/users/add", form)


def test_add_users_refuses_what_is_not_an_address(officer_browser, mailbox):
    def refused(address: str) -> bool:
        return f"Row 1: {MESSAGE}" in page_text(_add_user(officer_browser, address))

    _refused_everywhere(refused)
    assert mailbox.messages == []
    assert "Invitation sent" in page_text(_add_user(officer_browser, "ANA@Bücher.Example"))
    assert "ana@xn--bcher-kva.example" in _stored()


def test_a_csv_import_skips_what_is_not_an_address(officer_browser, mailbox):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("first_name", "last_name", "email", "roles"))
    writer.writerow(("Jane", "Good", "JANE@Example.ORG", "Submit for Assessment: Teacher"))
    for address in BAD.values():
        writer.writerow(("Tom", "Bad", address, "Submit for Assessment: Teacher"))
    before = _stored()
    preview = page_text(upload_csv(officer_browser, out.getvalue().encode()))
    assert f"1 to add, {len(BAD)} lines that will be skipped" in preview
    assert preview.count(MESSAGE) == len(BAD)
    batch = re.search(r'name="batch" value="([^"]+)"', preview).group(1)
    started = officer_browser.post(
        "/organisation/AA101/users/import",
        data={"csrf_token": csrf_token(preview), "batch": batch},
    )
    assert "1 of 1 person invited." in page_text(officer_browser.get(location(started)))
    assert _stored() == before | {"jane@example.org"}
    assert [str(m["To"]) for m in mailbox.messages] == ["jane@example.org"]


def test_sign_up_refuses_what_is_not_an_address(client, mailbox):
    form = {
        "given_name": "Sam",
        "family_name": "Self",
        "password": "lantern orchard velvet",
        "confirm_password": "lantern orchard velvet",
    }

    def refused(address: str) -> bool:
        response = submit(client, "/signup", {**form, "email": address})
        return response.status_code == 200 and error_of(response) == MESSAGE

    _refused_everywhere(refused)
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0
    assert mailbox.messages == []
    assert location(submit(client, "/signup", {**form, "email": "ANA@Bücher.Example"})) == (
        "/login/verify"
    )
    assert _stored() == {"ana@xn--bcher-kva.example"}


def test_adding_an_address_refuses_what_is_not_an_address(client, make, mailbox):
    make.user("jane@example.org")
    assert location(sign_in(client, "jane@example.org")) == "/"

    def add(address: str):
        return submit(
            client,
            "/account/emails/add",
            {"email": address, "current_password": PASSWORD},
            page_url="/account/personal",
        )

    def refused(address: str) -> bool:
        response = add(address)
        return response.status_code == 400 and error_of(response) == MESSAGE

    _refused_everywhere(refused)
    assert mailbox.messages == []
    assert location(add("ANA@Bücher.Example")) == "/account/emails/verify"
    assert "ana@xn--bcher-kva.example" in page_text(client.get("/account/emails/verify"))


def test_an_officer_cannot_change_an_address_to_what_is_not_one(officer_browser, mailbox):
    donald = users.find_by_email("donald@example.org")
    view = f"/organisation/AA101/users/{donald.sub}"

    def change(address: str):
        return submit(officer_browser, f"{view}/email", {"email": address}, page_url=view)

    def refused(address: str) -> bool:
        return notice_of(page_text(officer_browser.get(location(change(address))))) == MESSAGE

    _refused_everywhere(refused)
    assert mailbox.messages == []
    change("Donald.Duck@Bücher.Example")
    confirm_address_change(
        officer_browser.application.test_client(), mailbox, "donald.duck@xn--bcher-kva.example"
    )
    db.session.expire_all()
    assert users.find_by_email("donald@example.org") is None
    assert users.find_by_email("donald.duck@xn--bcher-kva.example").sub == donald.sub


def test_the_cli_refuses_what_is_not_an_address(run):
    def refused(address: str) -> bool:
        result = run("users", "create", "--email", address, "--first-name", "T", "--last-name", "T")
        return result.exit_code == 1 and result.output == f"Error: {MESSAGE}\n"

    _refused_everywhere(refused)
    result = run(
        "users",
        "create",
        *("--email", "ANA@Bücher.Example", "--first-name", "Ana", "--last-name", "Alves"),
        *("--password", "a long enough password", "--json"),
    )
    assert json.loads(result.output)["email"] == "ana@xn--bcher-kva.example"
    # Every command that names an account by its address finds it in either form.
    assert run("users", "set-operator", "ana@xn--bcher-kva.example").exit_code == 0
