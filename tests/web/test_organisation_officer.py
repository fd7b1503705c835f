"""The officer's actions made safe, tried through the pages by a deputy, by another centre's
officer and by crafted requests, and by the honest officer: the named exams officer is the
operator's to change; a suspension reaches one centre when the person belongs to others; every
action with consequences asks first; an officer's reset email says who asked."""

from __future__ import annotations

import pytest

from idp import clock
from idp.domain import organisations
from idp.extensions import db
from idp.models import Organisation, User
from idp.oidc import store
from tests.journeys import location, notice_of, page_text, sign_in, submit
from tests.mailbox import text_of
from tests.oidc_helpers import RelyingParty


@pytest.fixture
def world(make):
    """AA101 with its named exams officer Olive, a deputy (User Management) and Donald (only
    here); BB102 with its officer Bob; Tom teaches at both."""
    aa = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(aa, "officer@example.org", given_name="Olive")
    make.user("deputy@example.org", given_name="Dan", family_name="Deputy", org=aa,
              roles=("user_management",))  # fmt: skip
    make.user("donald@example.org", given_name="Donald", family_name="Duck", org=aa,
              roles=("sfa.teacher",))  # fmt: skip
    bb = make.org("BB102", name="BB Dummy Centre B")
    make.exams_officer(bb, "bb.officer@example.org", given_name="Bob")
    tom = make.user("tom@example.org", given_name="Tom", family_name="Teacher", org=aa,
                    roles=("sfa.teacher",))  # fmt: skip
    organisations.set_roles(tom, bb, {"sfa.teacher"}, make.catalogue)
    db.session.commit()
    return aa


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(
        db.select(User).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": email},
    )


def _org(code: str) -> Organisation:
    return organisations.get_by_code(code)


def _browser(app, email: str):
    browser = app.test_client()
    assert location(sign_in(browser, email)) == "/"
    return browser


def _view(code: str, email: str) -> str:
    return f"/organisation/{code}/users/{_user(email).sub}"


def _notice(browser, response) -> str:
    return notice_of(page_text(browser.get(location(response))))


# -- 4: the named exams officer is the operator's to change ---------------------------------------


def test_a_deputy_cannot_take_user_management_from_the_named_exams_officer(app, world):
    deputy = _browser(app, "deputy@example.org")
    view = _view("AA101", "officer@example.org")
    page = page_text(deputy.get(view))
    assert "Olive Officer is the exams officer named for AA101. Only Cambridge can" in page
    assert 'id="role-user_management" checked disabled' in page  # shown, not offered
    assert f'href="{view}/suspend"' not in page and f'href="{view}/delete"' not in page
    # A crafted form without User Management is refused in words; nothing changes.
    response = submit(deputy, f"{view}/roles", {"roles": ["sfa.teacher"]}, page_url=view)
    assert _notice(deputy, response) == (
        "Olive Officer is the exams officer named for AA101, so User Management cannot be taken"
        " from them here. To name a new exams officer, contact Cambridge."
    )
    held = organisations.membership(_user("officer@example.org"), _org("AA101")).role_keys
    assert "user_management" in held and "gl.exams_officer" in held
    # The form as the page sends it (User Management carried along) saves the other roles.
    response = submit(
        deputy, f"{view}/roles", {"roles": ["user_management", "sfa.teacher"]}, page_url=view
    )
    assert _notice(deputy, response) == "The roles of Olive Officer have been saved."
    held = organisations.membership(_user("officer@example.org"), _org("AA101")).role_keys
    assert held == {"user_management", "gl.exams_officer", "sfa.teacher"}


def test_the_exams_officer_can_take_user_management_from_a_deputy(app, world):
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "deputy@example.org")
    assert "checked disabled" not in page_text(officer.get(view))
    response = submit(officer, f"{view}/roles", {"roles": ["sfa.teacher"]}, page_url=view)
    assert _notice(officer, response) == "The roles of Dan Deputy have been saved."
    assert organisations.membership(_user("deputy@example.org"), _org("AA101")).role_keys == {
        "sfa.teacher"
    }


@pytest.mark.parametrize("action", ["suspend", "delete"])
def test_a_deputy_cannot_suspend_or_delete_the_named_exams_officer(app, world, action):
    deputy = _browser(app, "deputy@example.org")
    view = _view("AA101", "officer@example.org")
    asked = deputy.get(f"{view}/{action}")
    assert location(asked) == view  # no question is asked of what would be refused
    assert "is the exams officer named for AA101, so they cannot be" in notice_of(
        page_text(deputy.get(view))
    )
    crafted = submit(deputy, f"{view}/{action}", {"confirm": "yes"}, page_url=view)
    assert "is the exams officer named for AA101, so they cannot be" in _notice(deputy, crafted)
    officer = _user("officer@example.org")
    assert officer.status == "active"
    membership = organisations.membership(officer, _org("AA101"))
    assert membership is not None and not membership.is_suspended
    assert _org("AA101").exams_officer_id == officer.id


def test_a_deputy_cannot_name_a_new_exams_officer(app, world):
    deputy = _browser(app, "deputy@example.org")
    view = _view("AA101", "donald@example.org")
    response = submit(
        deputy, f"{view}/roles", {"roles": ["sfa.teacher", "gl.exams_officer"]}, page_url=view
    )
    assert "cannot be given from here" in _notice(deputy, response)
    assert _org("AA101").exams_officer_id == _user("officer@example.org").id


# -- 4: a suspension reaches only as far as the officer's say -------------------------------------


def test_a_member_of_two_centres_is_suspended_at_one_only(app, make, world):
    rp = RelyingParty(app.test_client(), make.client())
    tokens = rp.tokens("tom@example.org", scope="openid roles offline_access", org_hint="AA101")
    tom_browser = _browser(app, "tom@example.org")
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "tom@example.org")
    before = page_text(officer.get(view))
    assert (
        "If suspended: Tom Teacher will lose access to AA101&#39;s services; their account and"
        " other centres are not affected." in before
    )
    question = page_text(officer.get(f"{view}/suspend"))
    assert "Yes, suspend Tom Teacher" in question
    assert "their account and other centres are not affected" in question
    done = submit(officer, f"{view}/suspend", {"confirm": "yes"}, page_url=f"{view}/suspend")
    assert _notice(officer, done) == (
        "Tom Teacher has been suspended at AA101: they have lost access to AA101&#39;s services;"
        " their account and other centres are not affected."
    )
    tom = _user("tom@example.org")
    assert tom.status == "active"
    assert "Suspended at AA101" in page_text(officer.get(view))
    listed = page_text(officer.get("/organisation/AA101/users?status=suspended"))
    assert "tom@example.org" in listed and "donald@example.org" not in listed
    # No roles at AA101, for the services too; BB102 untouched; the AA101 token revoked.
    by_code = {m.code: m.role_keys for m in store.memberships(tom.id)}
    assert by_code == {"AA101": frozenset(), "BB102": frozenset({"sfa.teacher"})}
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert tom_browser.get("/").status_code == 200  # still signed in
    bob = _browser(app, "bb.officer@example.org")
    assert "tom@example.org" not in page_text(bob.get("/organisation/BB102/users?status=suspended"))
    assert "tom@example.org" in page_text(bob.get("/organisation/BB102/users?status=active"))
    # Restore mirrors it.
    restored = submit(officer, f"{view}/restore", {"confirm": "yes"}, page_url=f"{view}/restore")
    assert _notice(officer, restored) == (
        "Tom Teacher has been restored at AA101 and can use its services again."
    )
    by_code = {m.code: m.role_keys for m in store.memberships(tom.id)}
    assert by_code["AA101"] == frozenset({"sfa.teacher"})


def test_a_suspended_membership_gives_no_tiles_and_no_my_organisation(app, make, world):
    tom = _user("tom@example.org")
    organisations.set_roles(tom, _org("AA101"), {"sfa.teacher", "user_management"}, make.catalogue)
    db.session.commit()
    tom_browser = _browser(app, "tom@example.org")
    assert tom_browser.get("/organisation/AA101/users").status_code == 200
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "tom@example.org")
    submit(officer, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    assert tom_browser.get("/organisation/AA101/users").status_code == 404
    submit(
        tom_browser,
        "/change-organisation",
        {"organisation": "AA101"},
        page_url="/change-organisation",
    )
    home = page_text(tom_browser.get("/"))
    assert "Acting for AA101" in home and '<a class="tile__link"' not in home


def test_another_centres_officer_cannot_lift_a_suspension_that_is_not_theirs(app, world):
    officer = _browser(app, "officer@example.org")
    submit(officer, f"{_view('AA101', 'tom@example.org')}/suspend", {"confirm": "yes"},
           page_url="/organisation/AA101/users")  # fmt: skip
    bob = _browser(app, "bb.officer@example.org")
    assert bob.get(_view("AA101", "tom@example.org")).status_code == 404
    view = _view("BB102", "tom@example.org")
    assert "not suspended" in notice_of(page_text(bob.get(location(bob.get(f"{view}/restore")))))
    crafted = submit(bob, f"{view}/restore", {"confirm": "yes"}, page_url=view)
    assert _notice(bob, crafted) == "This person is not suspended."
    assert organisations.membership(_user("tom@example.org"), _org("AA101")).is_suspended
    # Bob's own suspension of Tom is at BB102 alone, and Olive's restore does not lift it.
    submit(bob, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    submit(officer, f"{_view('AA101', 'tom@example.org')}/restore", {"confirm": "yes"},
           page_url="/organisation/AA101/users")  # fmt: skip
    tom = _user("tom@example.org")
    assert tom.status == "active"
    assert not organisations.membership(tom, _org("AA101")).is_suspended
    assert organisations.membership(tom, _org("BB102")).is_suspended


def test_someone_only_here_is_suspended_as_an_account_and_told_so(app, world):
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "donald@example.org")
    assert "Donald Duck will be signed out everywhere and cannot sign in until restored." in (
        page_text(officer.get(view))
    )
    done = submit(officer, f"{view}/suspend", {"confirm": "yes"}, page_url=f"{view}/suspend")
    assert _notice(officer, done) == (
        "Donald Duck has been suspended: they are signed out everywhere and cannot sign in"
        " until restored."
    )
    assert _user("donald@example.org").status == "suspended"


def test_delete_after_a_membership_suspension_removes_from_this_centre_only(app, world):
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "tom@example.org")
    submit(officer, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    page = page_text(officer.get(f"{view}/delete"))
    assert "Yes, remove Tom Teacher from AA101" in page
    removed = submit(officer, f"{view}/delete", {"confirm": "yes"}, page_url=f"{view}/delete")
    assert location(removed) == "/organisation/AA101/users"
    tom = _user("tom@example.org")
    assert [m.organisation.code for m in tom.memberships] == ["BB102"]
    assert tom.status == "active" and not tom.memberships[0].is_suspended


# -- 6: nothing changes until the question is answered Yes ----------------------------------------


@pytest.mark.parametrize("action", ["suspend", "restore", "password", "delete"])
def test_a_post_that_skips_the_question_changes_nothing(app, world, mailbox, action):
    officer = _browser(app, "officer@example.org")
    donald = _user("donald@example.org")
    if action in ("restore", "delete"):
        view = _view("AA101", "donald@example.org")
        submit(officer, f"{view}/suspend", {"confirm": "yes"}, page_url=view)
    view = _view("AA101", "donald@example.org")
    status = _user("donald@example.org").status
    mailbox.clear()
    crafted = submit(officer, f"{view}/{action}", {}, page_url=view)
    if action == "delete":
        assert location(crafted) == f"{view}/delete"  # the page that asks
    else:
        assert crafted.status_code == 200 and "Yes, " in page_text(crafted)
    assert _user("donald@example.org").status == status
    assert organisations.membership(_user("donald@example.org"), _org("AA101")) is not None
    assert mailbox.messages == []
    assert donald.id == _user("donald@example.org").id


def test_the_question_says_what_will_happen_and_cancel_goes_back(app, world):
    officer = _browser(app, "officer@example.org")
    view = _view("AA101", "donald@example.org")
    page = page_text(officer.get(view))
    assert f'href="{view}/suspend"' in page and f'href="{view}/password"' in page
    question = page_text(officer.get(f"{view}/password"))
    assert "We will email donald@example.org a link to choose a new password." in question
    assert "Yes, send the link to Donald Duck" in question
    assert f'<a href="{view}">Cancel</a>' in question
    question = page_text(officer.get(f"{view}/suspend"))
    assert "Every service they have signed in to is told to sign them out." in question


# -- 8: an officer's reset email says who asked -------------------------------------------------


def test_an_officers_reset_email_names_who_asked(app, world, mailbox):
    for who, words in (
        ("officer@example.org", "Olive Officer, the exams officer at AA101, asked us"),
        ("deputy@example.org", "Dan Deputy, who manages My Cambridge accounts at AA101, asked us"),
    ):
        browser = _browser(app, who)
        view = _view("AA101", "tom@example.org")
        mailbox.clear()
        submit(browser, f"{view}/password", {"confirm": "yes"}, page_url=f"{view}/password")
        body = " ".join(text_of(mailbox.wait_for("tom@example.org", "Reset")).split())
        assert words in body
        assert f"If you did not expect this email, ask {words.split(',')[0]} why" in body
        clock.advance(61)  # one link a minute per account
    mailbox.clear()
    submit(app.test_client(), "/password/forgot", {"email": "donald@example.org"})
    body = text_of(mailbox.wait_for("donald@example.org", "Reset"))
    assert "We received a request to reset the password" in body and "asked us" not in body
