"""My Organisation through the pages, as an exams officer would use it."""

from __future__ import annotations

import re

import pytest

from idp.domain import organisations
from idp.extensions import db
from idp.models import User, UserOrigin
from tests.journeys import (
    confirm_address_change,
    location,
    notice_of,
    page_text,
    sign_in,
    submit,
    temporary_password,
    upload_csv,
)
from tests.oidc_helpers import RelyingParty, csrf_token


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _sub(email: str) -> str:
    return db.session.scalar(
        db.select(User.sub).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": email},
    )


def test_the_users_list_shows_the_organisation_and_pages(officer_browser, centre, make):
    for i in range(20):
        make.user(
            f"t{i:02d}@example.org",
            given_name=f"Teacher{i:02d}",
            family_name="X",
            org=centre,
            roles=("sfa.teacher",),
        )
    assert location(officer_browser.get("/organisation/")) == "/organisation/AA101/users"
    page = page_text(officer_browser.get("/organisation/AA101/users"))
    assert "AA101 – AA Dummy Centre A (CIC)" in page
    assert "1–15 of 22" in page
    assert page.count("<tr>") == 16  # header + 15 rows
    second = page_text(officer_browser.get("/organisation/AA101/users?page=2"))
    assert "16–22 of 22" in second
    found = page_text(officer_browser.get("/organisation/AA101/users?q=donald"))
    assert (
        "1–1 of 1" in found and "Donald Duck" in found and "Submit for Assessment: Teacher" in found
    )
    assert "My Organisation" in page  # the masthead link


def test_a_teacher_has_no_my_organisation(client, centre):
    sign_in(client, "donald@example.org")
    assert "My Organisation" not in page_text(client.get("/"))
    assert client.get("/organisation/").status_code == 403
    assert client.get("/organisation/AA101/users").status_code == 404


def test_another_organisations_pages_are_not_found(officer_browser, make):
    other = make.org("ZZ999")
    stranger = make.user("stranger@example.org", org=other, roles=("sfa.teacher",))
    assert officer_browser.get("/organisation/ZZ999/users").status_code == 404
    assert officer_browser.get(f"/organisation/AA101/users/{stranger.sub}").status_code == 404
    response = submit(
        officer_browser,
        f"/organisation/AA101/users/{stranger.sub}/suspend",
        {},
        page_url="/organisation/AA101/users",
    )
    assert response.status_code == 404
    assert db.session.get(User, stranger.id).status == "active"


def test_add_a_user_who_is_invited_and_activates(officer_browser, app, centre, mailbox):
    response = submit(
        officer_browser,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": "Tom",
            "family_name-0": "Teacher",
            "email-0": "tom@example.org",
            "roles-0": "sfa.teacher",
            "action": "save",
        },
    )
    html = page_text(response)
    assert "Invitations sent" in html and "Invitation sent" in html
    temporary = temporary_password(mailbox, "tom@example.org")
    assert "AA Dummy Centre A (CIC) has created a My Cambridge account" in str(
        mailbox.wait_for("tom@example.org").get_body(preferencelist=("plain",)).get_content()
    )
    tom = app.test_client()
    assert location(sign_in(tom, "tom@example.org", temporary)) == "/login/set-password"


def test_several_rows_are_all_written_or_none(officer_browser, centre, mailbox):
    rows = {
        "rows": "3",
        "given_name-0": "Ann",
        "family_name-0": "One",
        "email-0": "ann@example.org",
        "roles-0": "sfa.teacher",
        "given_name-1": "Bob",
        "family_name-1": "Two",
        "email-1": "not-an-address",
        "roles-1": "sfa.teacher",
        "given_name-2": "Cat",
        "family_name-2": "Three",
        "email-2": "cat@example.org",
        "action": "save",
    }
    response = submit(officer_browser, "/organisation/AA101/users/add", rows)
    html = page_text(response)
    assert "Row 2: Enter an email address in the correct format" in html
    assert "Row 3: Select one or more roles." in html
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 2
    assert mailbox.messages == []
    rows.update({"email-1": "bob@example.org", "roles-2": "aa.nominated_user"})
    html = page_text(submit(officer_browser, "/organisation/AA101/users/add", rows))
    assert html.count("<td>Invitation sent</td>") == 3
    for address in ("ann@example.org", "bob@example.org", "cat@example.org"):
        mailbox.wait_for(address, "Your My Cambridge account")


def test_add_row_and_save_and_add_another(officer_browser, centre):
    response = submit(
        officer_browser,
        "/organisation/AA101/users/add",
        {"rows": "1", "action": "add_row", "given_name-0": "Kept"},
    )
    html = page_text(response)
    assert 'id="given_name-1"' in html and 'value="Kept"' in html
    response = submit(
        officer_browser,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": "Eve",
            "family_name-0": "E",
            "email-0": "eve@example.org",
            "roles-0": "sfa.teacher",
            "action": "save_another",
        },
    )
    assert location(response) == "/organisation/AA101/users/add"
    assert "Invitation sent to eve@example.org." in page_text(
        officer_browser.get(location(response))
    )


def test_an_existing_account_is_invited_to_join_not_duplicated(officer_browser, make, mailbox):
    other = make.org("ZZ999")
    make.user(
        "shared@example.org",
        given_name="Sam",
        family_name="Shared",
        org=other,
        roles=("sfa.teacher",),
    )
    html = page_text(
        submit(
            officer_browser,
            "/organisation/AA101/users/add",
            {
                "rows": "1",
                "given_name-0": "Sam",
                "family_name-0": "Shared",
                "email-0": "SHARED@example.org",
                "roles-0": "aa.nominated_user",
                "action": "save",
            },
        )
    )
    # The same words as for a new address: the page does not say the account existed.
    assert "Invitation sent" in html and "already" not in html.lower()
    mailbox.wait_for("shared@example.org", "AA Dummy Centre A (CIC) invites you to join it")
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 3
    # Not a member until they accept.
    shared = db.session.scalar(
        db.select(User).join(User.emails).where(db.text("address = 'shared@example.org'"))
    )
    assert [m.organisation.code for m in shared.memberships] == ["ZZ999"]


def test_role_changes_show_in_the_next_token(officer_browser, app, make, centre):
    sub = _sub("donald@example.org")
    rp = RelyingParty(
        app.test_client(), make.client(services=("submit_for_assessment",), introspect=True)
    )
    first = rp.tokens("donald@example.org", scope="openid roles")
    assert rp.verify_id_token(first["id_token"])["roles"] == ["sfa.teacher"]

    response = submit(
        officer_browser,
        f"/organisation/AA101/users/{sub}/roles",
        {"roles": ["sfa.exams_officer"]},
        page_url=f"/organisation/AA101/users/{sub}",
    )
    assert location(response) == f"/organisation/AA101/users/{sub}"
    assert "The roles of Donald Duck have been saved." in page_text(
        officer_browser.get(location(response))
    )
    # The access token issued before the change already says so, and so does everything after.
    assert rp.introspect(first["access_token"]).get_json()["roles"] == ["sfa.exams_officer"]
    assert rp.userinfo(first["access_token"]).get_json()["roles"] == ["sfa.exams_officer"]
    refreshed = rp.refresh(first["refresh_token"]).get_json()
    assert rp.verify_id_token(refreshed["id_token"], nonce=None)["roles"] == ["sfa.exams_officer"]


def test_a_crafted_post_cannot_grant_global_listening_or_edit_own_roles(officer_browser):
    donald = _sub("donald@example.org")
    response = submit(
        officer_browser,
        f"/organisation/AA101/users/{donald}/roles",
        {"roles": ["sfa.teacher", "gl.exams_officer"]},
        page_url=f"/organisation/AA101/users/{donald}",
    )
    assert "cannot be given from here" in notice_of(
        page_text(officer_browser.get(location(response)))
    )
    me = _sub("officer@example.org")
    page = page_text(officer_browser.get(f"/organisation/AA101/users/{me}"))
    assert "You cannot change your own roles." in page
    response = submit(
        officer_browser,
        f"/organisation/AA101/users/{me}/roles",
        {"roles": ["sfa.exams_officer"]},
        page_url=f"/organisation/AA101/users/{me}",
    )
    assert "You cannot change your own roles" in notice_of(
        page_text(officer_browser.get(location(response)))
    )
    db.session.expire_all()
    held = {
        u.email: organisations.membership(u, organisations.get_by_code("AA101")).role_keys
        for u in db.session.scalars(db.select(User))
    }
    assert held == {
        "donald@example.org": {"sfa.teacher"},
        "officer@example.org": {"user_management", "gl.exams_officer"},
    }


def test_suspend_blocks_sign_in_and_tokens_at_once_then_restore_and_delete(
    officer_browser, app, make
):
    donald = _sub("donald@example.org")
    rp = RelyingParty(app.test_client(), make.client())
    tokens = rp.tokens("donald@example.org", scope="openid offline_access")
    donald_browser = app.test_client()
    sign_in(donald_browser, "donald@example.org")
    view = f"/organisation/AA101/users/{donald}"

    submit(officer_browser, f"{view}/delete", {"confirm": "yes"}, page_url=view)
    assert db.session.scalar(db.select(User).where(User.sub == donald)) is not None  # not yet

    submit(officer_browser, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    assert "Suspended" in page_text(officer_browser.get(view))
    assert donald_browser.get("/").status_code == 302
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert "Enter a correct email address and password." in page_text(
        sign_in(app.test_client(), "donald@example.org")
    )

    submit(officer_browser, f"{view}/restore", {"confirm": "yes"}, page_url=view)
    assert location(sign_in(app.test_client(), "donald@example.org")) == "/"

    submit(officer_browser, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    response = submit(officer_browser, f"{view}/delete", {"confirm": "yes"}, page_url=view)
    assert location(response) == "/organisation/AA101/users"
    # Donald was created by an operator, not by invitation: the account stays, unattached.
    donald_user = db.session.scalar(db.select(User).where(User.sub == donald))
    assert donald_user is not None and donald_user.memberships == []


def test_resend_invitation_and_password_reset_from_the_view_page(
    officer_browser, make, centre, mailbox
):
    invited = make.invited("new@example.org", org=centre, roles=("sfa.teacher",))
    view = f"/organisation/AA101/users/{invited.sub}"
    submit(officer_browser, f"{view}/invitation", {}, page_url=view)
    mailbox.wait_for("new@example.org", "Your My Cambridge account", count=2)
    donald = _sub("donald@example.org")
    view = f"/organisation/AA101/users/{donald}"
    submit(officer_browser, f"{view}/password", {"confirm": "yes"}, page_url=view)
    mailbox.wait_for("donald@example.org", "Reset your My Cambridge password")


def test_an_associate_changes_organisation_and_manages_its_centre(client, make):
    make.org("CA200", name="Associate")
    make.org("CA201", name="Associate centre one", associate_of="CA200")
    make.user(
        "associate@example.org", org=organisations.get_by_code("CA200"), roles=("user_management",)
    )
    make.user(
        "ct@example.org",
        given_name="Cora",
        family_name="Centre",
        org=organisations.get_by_code("CA201"),
        roles=("sfa.teacher",),
    )
    sign_in(client, "associate@example.org")
    # Two organisations to act for, none chosen yet: My Organisation asks her to choose.
    assert "Choose the organisation you are acting for" in page_text(client.get("/organisation/"))
    page = page_text(client.get("/change-organisation"))
    assert "CA201 – Associate centre one" in page and "associate centre of CA200" in page
    response = submit(client, "/change-organisation", {"organisation": "CA201"})
    assert location(response) == "/"
    assert location(client.get("/organisation/")) == "/organisation/CA201/users"
    html = page_text(client.get("/organisation/CA201/users"))
    assert "Acting for CA201 – Associate centre one" in html and "Cora Centre" in html
    # The services hear it in the next token: acting for CA201, with no roles held there.
    rp = RelyingParty(client, make.client(services=("submit_for_assessment",)))
    claims = rp.verify_id_token(
        rp.exchange(rp.sign_in("associate@example.org").code).get_json()["id_token"]
    )
    assert claims["org"]["code"] == "CA201" and claims["roles"] == []
    # Once they no longer hold User Management at the Associate, CA201 is no longer hers.
    associate = db.session.scalar(
        db.select(User)
        .join(User.emails)
        .where(db.text("email_addresses.address = 'associate@example.org'"))
    )
    organisations.set_roles(
        associate, organisations.get_by_code("CA200"), ["sfa.teacher"], make.catalogue
    )
    db.session.commit()
    claims = rp.verify_id_token(
        rp.exchange(rp.sign_in("associate@example.org").code).get_json()["id_token"]
    )
    # Her only organisation now: CA200, where she holds a Submit for Assessment role.
    assert claims["org"]["code"] == "CA200" and claims["roles"] == ["sfa.teacher"]


def test_the_audit_log_shows_this_organisations_events_only(officer_browser, make, app):
    other = make.org("ZZ999")
    stranger = make.user("stranger@example.org", org=other, roles=("user_management",))
    sign_in(app.test_client(), "stranger@example.org")
    donald = _sub("donald@example.org")
    view = f"/organisation/AA101/users/{donald}"
    submit(officer_browser, f"{view}/roles", {"roles": ["sfa.exams_officer"]}, page_url=view)
    sign_in(app.test_client(), "donald@example.org", "wrong password")
    html = page_text(officer_browser.get("/organisation/AA101/audit"))
    assert "<td>Roles changed</td>" in html and "Olga Officer" in html
    assert "<td>Roles set</td>" in html and "sfa.exams_officer" not in html
    assert (
        "The roles of Donald Duck are now: Submit for Assessment: Exams Officer."
        " Before: Submit for Assessment: Teacher." in html
    )
    assert "<td>Sign-in failed</td>" in html  # a member's failed sign-in
    assert "<td>127.0.0.1</td>" in html  # the source address of the request
    assert stranger.sub not in html and "Stranger" not in html
    only = page_text(officer_browser.get("/organisation/AA101/audit?action=sign_in."))
    assert "Roles changed" not in only and "<td>Signed in</td>" in only
    assert officer_browser.get("/organisation/ZZ999/audit").status_code == 404


CSV = (
    "first_name,last_name,email,roles\n"
    "Ann,One,ann@example.org,Submit for Assessment: Teacher\n"
    'Bob,Two,bob@example.org,"sfa.teacher; Access Arrangements Nominated User"\n'
    "Cat,Three,not-an-address,sfa.teacher\n"
    "Dee,Four,shared@example.org,aa.nominated_user\n"
    "Eve,Five,donald@example.org,sfa.teacher\n"
    "Fay,Six,ann@example.org,sfa.teacher\n"
    "Gil,Seven,gil@example.org,Global Listening\n"
    "\n"
)


def test_csv_import_previews_every_row_then_writes_the_good_ones_at_once(
    officer_browser, make, mailbox
):
    make.user("shared@example.org", org=make.org("ZZ999"), roles=("sfa.teacher",))
    preview = page_text(upload_csv(officer_browser, CSV.encode()))
    assert "3 to add, 4 lines that will be skipped" in preview
    assert "Enter an email address in the correct format" in preview
    assert "Skip: already a member" in preview  # Donald
    assert "Appears earlier in the file." in preview  # the second ann@
    assert "cannot be given from here" in preview  # Global Listening
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 3
    assert mailbox.messages == []

    batch = re.search(r'name="batch" value="([^"]+)"', preview).group(1)
    started = officer_browser.post(
        "/organisation/AA101/users/import",
        data={"csrf_token": csrf_token(preview), "batch": batch},
    )
    # The import runs once the browser has been answered; its page then shows the summary.
    assert started.status_code == 303
    html = page_text(officer_browser.get(location(started)))
    assert "3 of 3 people invited." in html
    assert html.count("Invitation sent") == 3
    mailbox.wait_for("ann@example.org", "Your My Cambridge account")
    mailbox.wait_for("bob@example.org", "Your My Cambridge account")
    mailbox.wait_for("shared@example.org", "invites you to join it")
    bob = db.session.scalar(
        db.select(User)
        .join(User.emails)
        .where(db.text("email_addresses.address = 'bob@example.org'"))
    )
    assert organisations.membership(bob, organisations.get_by_code("AA101")).role_keys == {
        "sfa.teacher",
        "aa.nominated_user",
    }
    tampered = officer_browser.post(
        "/organisation/AA101/users/import",
        data={"csrf_token": csrf_token(preview), "batch": batch[:-2] + "xx"},
    )
    assert tampered.status_code == 400


def test_csv_import_explains_a_bad_file(officer_browser):
    html = page_text(upload_csv(officer_browser, b"name,address\nA,b@example.org\n"))
    assert "missing: first_name, last_name, email, roles" in html
    html = page_text(upload_csv(officer_browser, b"first_name,last_name,email,roles\n"))
    assert "The file has no people in it." in html
    html = page_text(upload_csv(officer_browser, b"\xff\xfe\x00bad"))
    assert "UTF-8" in html


def test_the_officer_changes_a_users_email_and_both_addresses_are_told(
    officer_browser, app, make, centre, mailbox
):
    donald = _sub("donald@example.org")
    view = f"/organisation/AA101/users/{donald}"
    response = submit(
        officer_browser, f"{view}/email", {"email": "Donald.Duck@Example.net"}, page_url=view
    )
    assert "We have sent a link to donald.duck@example.net to confirm the change" in notice_of(
        page_text(officer_browser.get(location(response)))
    )
    confirm_address_change(app.test_client(), mailbox, "donald.duck@example.net")
    for address in ("donald@example.org", "donald.duck@example.net"):
        mailbox.wait_for(address, "Your My Cambridge email address was changed")
    assert location(sign_in(app.test_client(), "donald.duck@example.net")) == "/"
    taken = submit(
        officer_browser, f"{view}/email", {"email": "officer@example.org"}, page_url=view
    )
    assert "We have sent a link to officer@example.org to confirm the change" in notice_of(
        page_text(officer_browser.get(location(taken)))
    )
    # An invited person gets the invitation again at the new address, once it is proved.
    invited = make.invited("wrong@example.org", org=centre, roles=("sfa.teacher",))
    view = f"/organisation/AA101/users/{invited.sub}"
    submit(officer_browser, f"{view}/email", {"email": "right@example.org"}, page_url=view)
    confirm_address_change(app.test_client(), mailbox, "right@example.org")
    temporary = temporary_password(mailbox, "right@example.org")
    assert location(sign_in(app.test_client(), "right@example.org", temporary)) == (
        "/login/set-password"
    )


def test_the_view_page_says_remove_or_delete_as_the_action_will(officer_browser, make, centre):
    """*Delete* only where the account goes too (made by invitation, at no other centre);
    otherwise the person is removed from the centre and keeps the account, and the page says
    *Remove*, as the page it leads to does."""
    kept = make.user("kept@example.org", given_name="Kim", org=centre, roles=("sfa.teacher",))
    invited = make.user("new@example.org", given_name="Ivy", org=centre, roles=("sfa.teacher",))
    invited.origin = UserOrigin.INVITATION  # and since activated
    db.session.commit()
    for person, verb, button in (
        (kept, "Remove", "Remove from AA101"),
        (invited, "Delete", "Delete this user"),
    ):
        view = f"/organisation/AA101/users/{person.sub}"
        before = page_text(officer_browser.get(view))
        other = "Delete this user" if verb == "Remove" else "Remove from AA101"
        hint = (
            "To remove this user from AA101, suspend them first."
            if verb == "Remove"
            else "To delete this user, suspend them first."
        )
        assert hint in before
        submit(officer_browser, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
        page = page_text(officer_browser.get(view))
        assert f">{button}</a>" in page and other not in page
        leads_to = page_text(officer_browser.get(f"{view}/delete"))
        assert f"<h2>{verb} {person.name}</h2>" in leads_to
