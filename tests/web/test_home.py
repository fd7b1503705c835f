"""The home page: tiles by role in the organisation acted for, *Change Organisation* (the one
control that chooses it), the header that shows it on every page, and greyed tiles that say
who to ask."""

from __future__ import annotations

import re

import pytest

from idp.domain import organisations
from idp.extensions import db
from idp.models import AuthSession
from tests.journeys import location, page_text, sign_in, submit
from tests.oidc_helpers import RelyingParty


def _usable_tiles(html: str) -> list[str]:
    return re.findall(r'<a class="tile__link" href="([^"]+)"', html)


def _locked_text(html: str, service: str) -> str:
    match = re.search(
        rf'<span class="tile__name">{service}</span>\s*<span class="tile__text">([^<]*)</span>',
        html,
    )
    assert match, f"no locked tile for {service}"
    return match.group(1).replace("&#39;", "'")


@pytest.fixture
def jane(make):
    """A teacher in two centres: Submit for Assessment at AA101, Access Arrangements at
    AA102."""
    first = make.org("AA101", name="Centre A")
    second = make.org("AA102", name="Centre B")
    user = make.user("jane@example.org", org=first, roles=("sfa.teacher",))
    organisations.set_roles(user, second, ("aa.nominated_user",), make.catalogue)
    db.session.commit()
    return user


def test_with_several_organisations_the_home_page_asks_before_any_tile_works(client, jane):
    sign_in(client, "jane@example.org")
    home = page_text(client.get("/"))
    assert "Choose the organisation you are acting for" in home
    assert _usable_tiles(home) == []  # nothing usable until she chooses: no order decides
    assert "No organisation chosen" in home  # the header says so too


def test_after_a_switch_tiles_my_organisation_and_the_token_agree(client, make, jane):
    sign_in(client, "jane@example.org")
    response = submit(client, "/change-organisation", {"organisation": "AA102"}, page_url="/")
    assert location(response) == "/"
    home = page_text(client.get("/"))
    assert "You are now acting for AA102 – Centre B." in home
    assert _usable_tiles(home) == ["/launch/access_arrangements"]
    # The header of every signed-in page shows it, with the way to change it.
    account = page_text(client.get("/account/personal"))
    assert "Acting for AA102 – Centre B" in account and 'href="/change-organisation"' in account
    # Services learn the choice at the next token, without a chooser.
    rp = RelyingParty(client, make.client(services=("access_arrangements",)))
    claims = rp.verify_id_token(
        rp.exchange(rp.sign_in("jane@example.org").code).get_json()["id_token"]
    )
    assert claims["org"]["code"] == "AA102" and claims["roles"] == ["aa.nominated_user"]

    submit(client, "/change-organisation", {"organisation": "AA101"})
    assert _usable_tiles(page_text(client.get("/"))) == ["/launch/submit_for_assessment"]
    sfa = RelyingParty(client, make.client(services=("submit_for_assessment",)))
    claims = sfa.verify_id_token(
        sfa.exchange(sfa.sign_in("jane@example.org").code).get_json()["id_token"]
    )
    assert claims["org"]["code"] == "AA101" and claims["roles"] == ["sfa.teacher"]


def test_my_organisation_manages_the_organisation_acted_for(client, make, jane):
    organisations.set_roles(
        jane, organisations.get_by_code("AA102"), ("user_management",), make.catalogue
    )
    db.session.commit()
    sign_in(client, "jane@example.org")
    submit(client, "/change-organisation", {"organisation": "AA101"})
    page = page_text(client.get("/organisation/"))
    assert "You are acting for AA101 – Centre A, and you do not manage its users." in page
    assert 'href="/change-organisation"' in page
    submit(client, "/change-organisation", {"organisation": "AA102"})
    assert location(client.get("/organisation/")) == "/organisation/AA102/users"
    assert "manage_org" not in str(client.get_cookie("session"))


def test_one_organisation_is_acted_for_without_choosing(client, make):
    make.user("one@example.org", org=make.org("AA101", name="Centre A"), roles=("sfa.teacher",))
    sign_in(client, "one@example.org")
    home = page_text(client.get("/"))
    assert "Acting for AA101 – Centre A" in home
    assert "/change-organisation" not in home  # nothing to change
    assert _usable_tiles(home) == ["/launch/submit_for_assessment"]


def test_a_foreign_centre_cannot_be_chosen(client, make, jane):
    make.org("ZZ999")
    sign_in(client, "jane@example.org")
    submit(client, "/change-organisation", {"organisation": "AA101"})
    response = submit(client, "/change-organisation", {"organisation": "ZZ999"})
    assert response.status_code == 404
    assert "Acting for AA101 – Centre A" in page_text(client.get("/"))
    chosen = db.session.scalar(db.select(AuthSession.organisation_id))
    assert chosen == organisations.get_by_code("AA101").id


def test_an_associate_chooses_its_centres_and_no_other(client, make):
    make.org("CA200", name="Associate")
    make.org("CA201", name="Associate centre one", associate_of="CA200")
    make.org("CA300", name="Another associate")
    make.org("CA301", name="Not its centre", associate_of="CA300")
    make.user(
        "associate@example.org", org=organisations.get_by_code("CA200"), roles=("user_management",)
    )
    sign_in(client, "associate@example.org")
    page = page_text(client.get("/change-organisation"))
    assert "CA201 – Associate centre one" in page and "CA301" not in page
    assert submit(client, "/change-organisation", {"organisation": "CA301"}).status_code == 404
    assert db.session.scalar(db.select(AuthSession.organisation_id)) is None
    submit(client, "/change-organisation", {"organisation": "CA201"})
    home = page_text(client.get("/"))
    # Acting for CA201, where she holds no roles: no service of its is usable, but the
    # centre's users are hers to manage, one click away.
    assert "Acting for CA201 – Associate centre one" in home
    assert _usable_tiles(home) == ["/organisation/"]
    assert location(client.get("/organisation/")) == "/organisation/CA201/users"


def test_confirming_with_nothing_chosen_says_so(client, jane):
    sign_in(client, "jane@example.org")
    response = submit(client, "/change-organisation", {})
    assert response.status_code == 200 and "Select an organisation." in page_text(response)


# -- greyed tiles say who to ask ------------------------------------------------------------


@pytest.fixture
def centre(make):
    centre = make.org("AA101", name="Centre A")
    make.exams_officer(centre, given_name="Olive", family_name="Officer")
    return centre


def test_the_exams_officer_is_not_told_to_ask_herself(client, centre):
    sign_in(client, "officer@example.org")
    home = page_text(client.get("/"))
    text = _locked_text(home, "Submit for Assessment")
    assert "Ask your exams officer" not in text and "Cambridge International Education" in text
    # Global Listening goes with her office: she has it.
    assert "/launch/global_listening" in _usable_tiles(home)


def test_the_exams_officer_without_an_officer_only_service_asks_the_board(client, make, centre):
    officer = centre.exams_officer
    organisations.set_roles(officer, centre, ("user_management",), make.catalogue)
    db.session.commit()
    sign_in(client, "officer@example.org")
    text = _locked_text(page_text(client.get("/")), "Global Listening")
    assert text == (
        "This service is not given to AA101. If your centre needs it, contact"
        " Cambridge International Education."
    )


def test_a_deputy_is_told_the_exams_officer_by_name(client, make, centre):
    make.user("deputy@example.org", org=centre, roles=("user_management",))
    sign_in(client, "deputy@example.org")
    home = page_text(client.get("/"))
    assert _locked_text(home, "Submit for Assessment") == (
        "You do not have a role for this service at AA101. Ask your exams officer, Olive Officer."
    )
    assert _locked_text(home, "Global Listening") == (
        "Only the exams officer of AA101 can have this service."
    )


def test_without_a_named_officer_the_teacher_is_told_to_ask_the_exams_officer(client, make):
    make.user("t@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    sign_in(client, "t@example.org")
    assert _locked_text(page_text(client.get("/")), "Apply for Access Arrangements") == (
        "You do not have a role for this service at AA101. Ask your exams officer."
    )
