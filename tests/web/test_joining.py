"""Joining a second organisation by consent: an officer who adds an address that already has an
account sends an invitation to join; the person accepts or declines it on their home page.
Until then the organisation learns nothing of the account."""

from __future__ import annotations

import re

import pytest

from idp import clock
from idp.extensions import db
from idp.models import JoinInvitation, User
from tests.journeys import location, notice_of, page_text, sign_in, submit, upload_csv
from tests.oidc_helpers import csrf_token

DAY = 24 * 3600


@pytest.fixture
def teacher(make):
    """Olive, a teacher at BB102, who has signed in there (her history is hers)."""
    bb102 = make.org("BB102", name="BB Dummy Centre B")
    olive = make.user(
        "olive@example.org",
        given_name="Olive",
        family_name="Officer",
        org=bb102,
        roles=("sfa.teacher",),
    )
    return olive


@pytest.fixture
def officer_browser(client, centre):
    assert location(sign_in(client, "officer@example.org")) == "/"
    return client


def _add(browser, email: str, given="Olive", family="Other", roles=("aa.nominated_user",)):
    return submit(
        browser,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": given,
            "family_name-0": family,
            "email-0": email,
            "roles-0": list(roles),
            "action": "save",
        },
    )


def _invitation(email: str = "olive@example.org") -> JoinInvitation:
    db.session.expire_all()
    return db.session.scalar(
        db.select(JoinInvitation)
        .where(JoinInvitation.email == email)
        .order_by(JoinInvitation.id.desc())
    )


def _codes(user_email: str) -> list[str]:
    db.session.expire_all()
    user = db.session.scalar(
        db.select(User).join(User.emails).where(db.text("email_addresses.address = :a")),
        {"a": user_email},
    )
    return sorted(m.organisation.code for m in user.memberships)


def _person(app, email="olive@example.org"):
    browser = app.test_client()
    assert location(sign_in(browser, email)) == "/"
    return browser


def _masked(html: str, *words: str) -> str:
    """``html`` without what differs between two rows by design: the typed words, ids, tokens."""
    for word in words:
        html = html.replace(word, "•")
    html = re.sub(r"u_[A-Za-z0-9_-]{22}", "u_•", html)
    html = re.sub(r'name="csrf_token" value="[^"]+"', "csrf", html)
    return re.sub(r'nonce="[^"]+"', "nonce", html)


def test_an_existing_account_is_invited_not_attached(officer_browser, app, teacher, mailbox):
    """The attacker's view: AA101's officer types a BB102 teacher's address under another name."""
    html = page_text(_add(officer_browser, "olive@example.org"))
    assert "Invitation sent" in html
    assert _codes("olive@example.org") == ["BB102"]  # not a member of AA101
    message = mailbox.wait_for("olive@example.org", "invites you to join it")
    assert "Nothing changes unless you accept" in message.get_body(("plain",)).get_content()

    # AA101's pages show only what its officer typed: no real name, other centre or history.
    sub = _invitation().public_id
    pages = [
        page_text(officer_browser.get("/organisation/AA101/users")),
        page_text(officer_browser.get(f"/organisation/AA101/users/{sub}")),
        page_text(officer_browser.get("/organisation/AA101/audit")),
        page_text(officer_browser.get("/organisation/AA101/users/download")),
    ]
    for text in pages:
        assert "Olive Officer" not in text and "BB102" not in text
        assert teacher.sub not in text
    assert "Olive Other" in pages[0] and "Invited" in pages[1]
    assert "Olga Officer invited Olive Other, with the roles" in pages[2]


def test_the_answer_is_the_same_with_or_without_an_account(officer_browser, teacher, mailbox):
    clock.freeze()  # the two invitations' expiry dates, shown to the day, are the same day
    existing = _masked(page_text(_add(officer_browser, "olive@example.org")), "olive")
    new = _masked(page_text(_add(officer_browser, "nobody@example.org")), "nobody")
    assert existing == new
    list_page = page_text(officer_browser.get("/organisation/AA101/users?q=Other"))
    rows = re.findall(r"<tr>.*?</tr>", list_page, re.S)[1:]
    assert len(rows) == 2
    assert _masked(rows[0], "olive", "nobody") == _masked(rows[1], "olive", "nobody")
    # The invitation's page and an invited member's page are the same page, and so are the
    # questions before withdrawing them.
    hrefs = re.findall(r'href="(/organisation/AA101/users/u_[^"]+)"', list_page)
    assert len(hrefs) == 2
    for suffix in ("", "/withdraw"):
        pages = [
            _masked(page_text(officer_browser.get(href + suffix)), "olive", "nobody")
            for href in hrefs
        ]
        assert pages[0] == pages[1]
    # The audit log tells the same story of each.
    audit = page_text(officer_browser.get("/organisation/AA101/audit"))
    rows = re.findall(r"<tr>.*?</tr>", audit, re.S)[1:3]
    assert len(rows) == 2 and "invited" in rows[0]
    assert _masked(rows[0], "Olive", "Other", "Jane", "Smith") == _masked(
        rows[1], "Olive", "Other", "Jane", "Smith"
    )


def test_withdrawing_a_new_persons_invitation_deletes_the_unused_account(
    officer_browser, app, mailbox
):
    _add(officer_browser, "nobody@example.org", given="No", family="Body")
    sub = db.session.scalar(
        db.select(User.sub).join(User.emails).where(db.text("address = 'nobody@example.org'"))
    )
    view = f"/organisation/AA101/users/{sub}"
    question = officer_browser.get(f"{view}/withdraw")
    assert "Yes, withdraw the invitation to No Body" in page_text(question)
    token = csrf_token(page_text(question))
    officer_browser.post(f"{view}/withdraw", data={"csrf_token": token})
    assert db.session.scalar(db.select(User.id).where(User.sub == sub)) is not None
    response = officer_browser.post(
        f"{view}/withdraw", data={"csrf_token": token, "confirm": "yes"}
    )
    assert location(response) == "/organisation/AA101/users"
    db.session.expire_all()
    assert db.session.scalar(db.select(User.id).where(User.sub == sub)) is None
    audit = page_text(officer_browser.get("/organisation/AA101/audit"))
    assert "Olga Officer withdrew the invitation to No Body" in audit


def test_an_active_member_has_no_invitation_to_withdraw(officer_browser, centre):
    sub = db.session.scalar(
        db.select(User.sub).join(User.emails).where(db.text("address = 'donald@example.org'"))
    )
    view = f"/organisation/AA101/users/{sub}"
    assert officer_browser.get(f"{view}/withdraw").status_code == 404
    token = csrf_token(page_text(officer_browser.get(view)))
    response = officer_browser.post(
        f"{view}/withdraw", data={"csrf_token": token, "confirm": "yes"}
    )
    assert response.status_code == 404
    assert db.session.scalar(db.select(User.id).where(User.sub == sub)) is not None


def test_accepting_makes_a_member_with_the_roles_offered(officer_browser, app, teacher, mailbox):
    _add(officer_browser, "olive@example.org", roles=("aa.nominated_user", "sfa.teacher"))
    olive = _person(app)
    home = page_text(olive.get("/"))
    assert "Olga Officer at AA101 – AA Dummy Centre A (CIC) invites you to join it" in home
    invitation = _invitation()
    response = olive.post(
        f"/invitations/{invitation.public_id}/accept", data={"csrf_token": csrf_token(home)}
    )
    assert location(response) == "/"
    assert "You have joined AA101" in notice_of(page_text(olive.get("/")))
    assert _codes("olive@example.org") == ["AA101", "BB102"]
    db.session.expire_all()
    membership = next(
        m for m in db.session.get(User, teacher.id).memberships if m.organisation.code == "AA101"
    )
    assert membership.role_keys == {"aa.nominated_user", "sfa.teacher"}
    # From now on AA101 sees the account as it is, but not its other centres, nor its sign-ins
    # from before it joined; the officer's old link to the invitation leads to the member.
    assert "Olive Officer" in page_text(officer_browser.get("/organisation/AA101/users"))
    old_link = officer_browser.get(f"/organisation/AA101/users/{invitation.public_id}")
    assert location(old_link) == f"/organisation/AA101/users/{teacher.sub}"
    member_page = page_text(officer_browser.get(location(old_link)))
    assert "BB102" not in member_page
    assert re.search(r"Last sign-in</dt><dd>Never</dd>", member_page)
    olive.post("/logout", data={"csrf_token": csrf_token(page_text(olive.get("/")))})
    _person(app)
    member_page = page_text(officer_browser.get(location(old_link)))
    assert not re.search(r"Last sign-in</dt><dd>Never</dd>", member_page)
    # The invitation is spent.
    again = olive.post(
        f"/invitations/{invitation.public_id}/accept", data={"csrf_token": csrf_token(home)}
    )
    assert "answered or withdrawn" in notice_of(page_text(olive.get(location(again))))


def test_declining_ends_the_invitation(officer_browser, app, teacher):
    _add(officer_browser, "olive@example.org")
    olive = _person(app)
    home = page_text(olive.get("/"))
    invitation = _invitation()
    olive.post(
        f"/invitations/{invitation.public_id}/decline", data={"csrf_token": csrf_token(home)}
    )
    assert _codes("olive@example.org") == ["BB102"]
    assert "invites you to join" not in page_text(olive.get("/"))
    users = page_text(officer_browser.get("/organisation/AA101/users"))
    assert "Olive Other" not in users
    audit = page_text(officer_browser.get("/organisation/AA101/audit"))
    assert "Invitation to join declined" in audit and "Olive Officer" not in audit
    # Declined, she can be invited again.
    assert "Invitation sent" in page_text(_add(officer_browser, "olive@example.org"))


def test_only_the_invited_person_can_answer(officer_browser, app, teacher, centre):
    """Donald, a member of AA101, tries to accept (or decline) Olive's invitation."""
    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    donald = _person(app, "donald@example.org")
    home = page_text(donald.get("/"))
    assert "invites you to join" not in home
    for answer in ("accept", "decline"):
        response = donald.post(
            f"/invitations/{invitation.public_id}/{answer}", data={"csrf_token": csrf_token(home)}
        )
        assert location(response) == "/"
    assert _invitation().outcome is None
    assert _codes("olive@example.org") == ["BB102"]


def test_an_invitation_expires_and_a_resend_renews_it(officer_browser, app, teacher):
    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    clock.advance(15 * DAY)
    olive = _person(app)
    home = page_text(olive.get("/"))
    assert "invites you to join" not in home
    response = olive.post(
        f"/invitations/{invitation.public_id}/accept", data={"csrf_token": csrf_token(home)}
    )
    assert "expired" in notice_of(page_text(olive.get(location(response))))
    assert _codes("olive@example.org") == ["BB102"]

    officer = app.test_client()
    sign_in(officer, "officer@example.org")
    view = f"/organisation/AA101/users/{invitation.public_id}"
    assert "invitation expired" in page_text(officer.get(view))
    submit(officer, f"{view}/invitation", {}, page_url=view)
    assert "invitation valid until" in page_text(officer.get(view))
    home = page_text(olive.get("/"))
    olive.post(f"/invitations/{invitation.public_id}/accept", data={"csrf_token": csrf_token(home)})
    assert _codes("olive@example.org") == ["AA101", "BB102"]


def test_withdrawing_asks_first_then_ends_it(officer_browser, app, teacher):
    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    view = f"/organisation/AA101/users/{invitation.public_id}"
    question = officer_browser.get(f"{view}/withdraw")
    assert "Yes, withdraw the invitation to Olive Other" in page_text(question)
    assert _invitation().outcome is None  # asking changes nothing
    token = csrf_token(page_text(question))
    # A POST that skips the question only asks it.
    skipped = officer_browser.post(f"{view}/withdraw", data={"csrf_token": token})
    assert "Yes, withdraw the invitation" in page_text(skipped)
    assert _invitation().outcome is None
    response = officer_browser.post(
        f"{view}/withdraw", data={"csrf_token": token, "confirm": "yes"}
    )
    assert location(response) == "/organisation/AA101/users"
    assert _invitation().outcome == "withdrawn"
    olive = _person(app)
    home = page_text(olive.get("/"))
    assert "invites you to join" not in home
    olive.post(f"/invitations/{invitation.public_id}/accept", data={"csrf_token": csrf_token(home)})
    assert _codes("olive@example.org") == ["BB102"]


def test_another_centres_officer_cannot_see_or_touch_the_invitation(
    officer_browser, app, teacher, make
):
    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    make.exams_officer(make.org("ZZ900"), "zed@example.org")
    zed = _person(app, "zed@example.org")
    for code in ("AA101", "ZZ900"):
        view = f"/organisation/{code}/users/{invitation.public_id}"
        assert zed.get(view).status_code == 404
        assert zed.get(f"{view}/withdraw").status_code == 404
    token = csrf_token(page_text(zed.get("/organisation/ZZ900/users")))
    response = zed.post(
        f"/organisation/ZZ900/users/{invitation.public_id}/withdraw",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert response.status_code == 404
    assert _invitation().outcome is None


def test_the_officer_can_change_the_roles_offered_but_not_officer_only_ones(
    officer_browser, app, teacher
):
    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    view = f"/organisation/AA101/users/{invitation.public_id}"
    submit(officer_browser, f"{view}/roles", {"roles": ["sfa.teacher"]}, page_url=view)
    assert _invitation().role_keys == {"sfa.teacher"}
    response = submit(
        officer_browser, f"{view}/roles", {"roles": ["gl.exams_officer"]}, page_url=view
    )
    assert "goes with the centre" in page_text(officer_browser.get(location(response)))
    assert _invitation().role_keys == {"sfa.teacher"}


def test_adding_twice_says_already_invited_for_either_kind(officer_browser, teacher):
    _add(officer_browser, "olive@example.org")
    _add(officer_browser, "nobody@example.org")
    for address in ("olive@example.org", "nobody@example.org"):
        html = page_text(_add(officer_browser, address))
        assert "Already invited to this organisation." in html


def test_a_csv_import_invites_existing_accounts_to_join(officer_browser, teacher, mailbox):
    preview = page_text(
        upload_csv(
            officer_browser,
            b"first_name,last_name,email,roles\nOlive,Other,olive@example.org,sfa.teacher\n",
        )
    )
    assert "Olive Officer" not in preview
    batch = re.search(r'name="batch" value="([^"]+)"', preview).group(1)
    started = officer_browser.post(
        "/organisation/AA101/users/import",
        data={"csrf_token": csrf_token(preview), "batch": batch},
    )
    summary = page_text(officer_browser.get(location(started)))
    assert "1 of 1 person invited." in summary and "Olive Officer" not in summary
    mailbox.wait_for("olive@example.org", "invites you to join it")
    assert _codes("olive@example.org") == ["BB102"]


def test_the_invitation_is_emailed_in_the_persons_language(officer_browser, teacher, mailbox):
    teacher.locale = "es"
    db.session.commit()
    _add(officer_browser, "olive@example.org")
    message = mailbox.wait_for("olive@example.org")
    assert "le invita a unirse" in message["Subject"]


def test_an_answered_invitation_is_purged_after_a_month_and_the_log_still_names_it(
    officer_browser, app, teacher
):
    from idp.domain import maintenance

    _add(officer_browser, "olive@example.org")
    invitation = _invitation()
    view = f"/organisation/AA101/users/{invitation.public_id}"
    token = csrf_token(page_text(officer_browser.get(view)))
    officer_browser.post(f"{view}/withdraw", data={"csrf_token": token, "confirm": "yes"})
    settings = app.extensions["idp.settings"]
    assert maintenance.purge(settings)["join_invitations"] == 0  # kept a while
    clock.advance(31 * DAY)
    assert maintenance.purge(settings)["join_invitations"] == 1
    db.session.commit()
    assert _invitation() is None
    officer = app.test_client()
    sign_in(officer, "officer@example.org")
    audit = page_text(officer.get("/organisation/AA101/audit"))
    assert "Olga Officer invited Olive Other" in audit
    assert "Olga Officer withdrew the invitation to Olive Other" in audit
