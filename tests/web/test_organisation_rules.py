"""My Organisation's rules tried as attacks through the pages: taking over an officer's account
by its address, undoing another organisation's suspension, an unverified sign-up squatting an
address a centre adds, a preview that would name a stranger, an officer giving themselves roles
elsewhere, and odd input that must not be a 500."""

from __future__ import annotations

import re

import pytest

from idp.domain import organisations
from idp.extensions import db
from idp.models import User
from tests.journeys import (
    confirm_address_change,
    error_of,
    location,
    notice_of,
    page_text,
    sign_in,
    submit,
    temporary_password,
    upload_csv,
)
from tests.oidc_helpers import csrf_token

NEW_PASSWORD = "lantern orchard velvet"


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(
        db.select(User).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": email},
    )


def _add(browser, code: str, email: str, roles, given="Tess", family="Teacher"):
    return submit(
        browser,
        f"/organisation/{code}/users/add",
        {
            "rows": "1",
            "given_name-0": given,
            "family_name-0": family,
            "email-0": email,
            "roles-0": roles,
            "action": "save",
        },
    )


# -- 1: the address of someone who holds an office is theirs alone to change --------------------


@pytest.mark.parametrize(
    "target", ["officer@example.org", "deputy2@example.org"], ids=["exams-officer", "manager"]
)
def test_another_manager_cannot_change_the_address_of_an_office_holder(
    client, app, make, centre, mailbox, target
):
    make.user("deputy@example.org", org=centre, roles=("user_management",))
    make.user("deputy2@example.org", org=centre, roles=("user_management", "sfa.teacher"))
    victim = _user(target)
    sign_in(client, "deputy@example.org")
    view = f"/organisation/AA101/users/{victim.sub}"
    page = page_text(client.get(view))
    assert "only they can change their email address, on Account > Personal info." in page
    assert f'action="{view}/email"' not in page  # no form offered
    mailbox.clear()
    response = submit(
        client, f"{view}/email", {"email": "deputy.private@example.net"}, page_url=view
    )
    assert "only they can change their email address, on Account > Personal info." in notice_of(
        page_text(client.get(location(response))).replace("&gt;", ">")
    )
    assert _user("deputy.private@example.net") is None and _user(target) is not None
    assert mailbox.messages == []
    # The way in the attack needed: a reset link to the new address. There is none.
    submit(app.test_client(), "/password/forgot", {"email": "deputy.private@example.net"})
    assert mailbox.to("deputy.private@example.net") == []


def test_an_officer_changing_a_teachers_address_tells_the_old_address(
    officer_browser, centre, mailbox
):
    donald = _user("donald@example.org")
    view = f"/organisation/AA101/users/{donald.sub}"
    submit(officer_browser, f"{view}/email", {"email": "donald@example.net"}, page_url=view)
    asked = mailbox.wait_for("donald@example.org", "A change of your My Cambridge email address")
    assert "donald@example.net" in str(asked.get_body(preferencelist=("plain",)).get_content())
    confirm_address_change(officer_browser.application.test_client(), mailbox, "donald@example.net")
    told = mailbox.wait_for("donald@example.org", "Your My Cambridge email address was changed")
    assert "donald@example.net" in str(told.get_body(preferencelist=("plain",)).get_content())


# -- 2: a suspension is undone only by someone who could have made it ---------------------------


@pytest.fixture
def suspended_elsewhere(app, make):
    """Xavier, a teacher at ZZ900, suspended by its officer."""
    zz = make.org("ZZ900", name="Other centre")
    make.exams_officer(zz, "o2@example.org")
    x = make.user("x@example.org", given_name="Xavier", org=zz, roles=("sfa.teacher",))
    other = app.test_client()
    sign_in(other, "o2@example.org")
    view = f"/organisation/ZZ900/users/{x.sub}"
    submit(other, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    assert _user("x@example.org").status == "suspended"
    return x


def test_a_suspended_account_of_another_organisation_is_answered_like_any_address(
    officer_browser, centre, suspended_elsewhere, mailbox
):
    """Nothing tells the officer the address has an account, let alone a suspended one; the
    account does not join (it cannot sign in to accept)."""
    response = _add(officer_browser, "AA101", "x@example.org", "sfa.teacher", "Xavier", "Smith")
    assert "Invitation sent" in page_text(response)
    assert "suspended" not in page_text(response).lower()
    assert organisations.membership(_user("x@example.org"), centre) is None


def test_restore_cannot_undo_another_organisations_suspension(
    officer_browser, app, make, centre, suspended_elsewhere
):
    # Linked to AA101 as well (before suspended accounts could no longer be added).
    x = _user("x@example.org")
    organisations.set_roles(x, centre, {"sfa.teacher"}, make.catalogue)
    db.session.commit()
    view = f"/organisation/AA101/users/{x.sub}"
    response = submit(officer_browser, f"{view}/restore", {"confirm": "yes"}, page_url=view)
    assert "cannot be restored from here" in notice_of(
        page_text(officer_browser.get(location(response)))
    )
    assert _user("x@example.org").status == "suspended"
    assert "Enter a correct email address and password." in page_text(
        sign_in(app.test_client(), "x@example.org")
    )


# -- 3: an unverified sign-up does not lock out the person a centre adds ------------------------


def _sign_up_with_their_address(browser):
    """Someone signs up with the teacher's address, which they cannot read."""
    form = {"given_name": "Mal", "family_name": "Lory", "email": "teacher@example.org"}
    return submit(
        browser, "/signup", {**form, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )


def test_adding_the_address_of_an_unverified_sign_up_invites_its_owner(
    officer_browser, app, centre, mailbox
):
    squatter = app.test_client()
    signed_up = _sign_up_with_their_address(squatter)
    assert location(signed_up) == "/login/verify"  # the code went to an inbox they cannot read
    mailbox.clear()
    html = page_text(_add(officer_browser, "AA101", "teacher@example.org", "sfa.teacher"))
    assert "Invitation sent" in html and "Mal Lory" not in html
    temporary = temporary_password(mailbox, "teacher@example.org")
    assert mailbox.to("teacher@example.org")[0]["Subject"] == "Your My Cambridge account"
    teacher = _user("teacher@example.org")
    assert (teacher.name, teacher.origin, teacher.status) == (
        "Tess Teacher",
        "invitation",
        "invited",
    )
    assert organisations.membership(teacher, centre).role_keys == {"sfa.teacher"}
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 3  # no duplicate
    # The squatter's password no longer opens anything; the owner's invitation does.
    assert "Enter a correct email address and password." in page_text(
        sign_in(app.test_client(), "teacher@example.org", NEW_PASSWORD)
    )
    assert squatter.get("/").status_code == 302
    owner = app.test_client()
    assert location(sign_in(owner, "teacher@example.org", temporary)) == "/login/set-password"


def test_a_csv_import_invites_the_owner_of_an_unverified_sign_up(officer_browser, app, mailbox):
    _sign_up_with_their_address(app.test_client())
    mailbox.clear()
    preview = page_text(
        upload_csv(
            officer_browser,
            b"first_name,last_name,email,roles\nTess,T,teacher@example.org,sfa.teacher\n",
        )
    )
    batch = re.search(r'name="batch" value="([^"]+)"', preview).group(1)
    started = officer_browser.post(
        "/organisation/AA101/users/import",
        data={"csrf_token": csrf_token(preview), "batch": batch},
    )
    html = page_text(officer_browser.get(location(started)))
    assert "Invitation sent" in html
    temporary = temporary_password(mailbox, "teacher@example.org")
    assert location(sign_in(app.test_client(), "teacher@example.org", temporary)) == (
        "/login/set-password"
    )


# -- 4: the preview shows what the file says, nothing about existing accounts -------------------


def test_the_csv_preview_shows_the_names_in_the_file_not_those_of_existing_accounts(
    officer_browser, make
):
    make.user(
        "shared@example.org",
        given_name="Secret",
        family_name="Holder",
        org=make.org("ZZ999"),
        roles=("sfa.teacher",),
    )
    html = page_text(
        upload_csv(
            officer_browser,
            b"first_name,last_name,email,roles\n"
            b"Ann,Probe,shared@example.org,sfa.teacher\n"
            b"Bob,Probe,nobody@example.org,sfa.teacher\n"
            b"Don,Member,donald@example.org,sfa.teacher\n",
        )
    )
    assert "Ann Probe" in html and "Bob Probe" in html and "Don Member" in html
    assert "Secret" not in html and "Holder" not in html
    assert "2 to add, 1 line that will be skipped" in html


# -- 5: nobody gives themselves roles, not even at an associate centre --------------------------


@pytest.fixture
def associate_browser(client, make):
    make.org("CA200", name="Associate")
    make.org("CA201", name="Associate centre one", associate_of="CA200")
    make.user(
        "associate@example.org", org=organisations.get_by_code("CA200"), roles=("user_management",)
    )
    sign_in(client, "associate@example.org")
    return client


def test_an_associate_officer_cannot_add_themselves_to_an_associate_centre(associate_browser):
    response = _add(
        associate_browser,
        "CA201",
        "Associate@Example.org",
        ["sfa.exams_officer", "user_management"],
        "Jane",
        "Smith",
    )
    assert error_of(response) == ("Row 1: You cannot add yourself.")
    me = _user("associate@example.org")
    assert organisations.membership(me, organisations.get_by_code("CA201")) is None


def test_an_associate_officer_cannot_import_themselves_to_an_associate_centre(associate_browser):
    html = page_text(
        upload_csv(
            associate_browser,
            b"first_name,last_name,email,roles\nJane,Smith,associate@example.org,User Management\n",
            code="CA201",
        )
    )
    assert "You cannot add yourself." in html
    assert "Nothing in this file can be imported." in html
    assert 'name="batch"' not in html


# -- 7: odd input is answered, not a 500 --------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "to=9999-12-31",
        "from=0001-01-01&to=9999-12-31",
        "before=99999999999999999999.1",
        "after=-1.5",
        "before=%C2%B2.%C2%B2",
        "after=1.99999999999999999999999",
        "before=253402300800000000.1",  # the first microsecond of the year 10000
        "oldest=%C2%B2",
    ],
)
def test_the_audit_log_answers_odd_queries(officer_browser, query):
    response = officer_browser.get(f"/organisation/AA101/audit?{query}")
    assert response.status_code == 200
    assert ">No events.</td>" not in page_text(response)


@pytest.mark.parametrize(
    ("form", "rows"),
    [
        ({"rows": "\u00b2", "action": "add_row"}, 2),
        ({"rows": "99999999999999999999", "action": "add_row"}, 20),
        ({"rows": "2", "action": "remove_row-\u00b2"}, 2),
        ({"rows": "2", "action": "remove_row-99999999999999999999"}, 2),
        ({"rows": "2", "action": "remove_row-1"}, 1),
    ],
)
def test_add_users_answers_odd_row_numbers(officer_browser, form, rows):
    response = submit(officer_browser, "/organisation/AA101/users/add", form)
    assert response.status_code == 200
    assert page_text(response).count('class="panel user-row') == rows


def test_a_csv_file_with_a_huge_cell_is_explained(officer_browser):
    data = b"first_name,last_name,email,roles\nA,B," + b"x" * 200_000 + b",sfa.teacher\n"
    response = upload_csv(officer_browser, data)
    assert response.status_code == 200
    assert "Line 2 of the file cannot be read as CSV." in page_text(response)
