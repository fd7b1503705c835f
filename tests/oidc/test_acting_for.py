"""Which organisation ``org``/``roles`` speak for (README, "Claims"): never picked by order.
A person holding roles for the client's services at several organisations chooses (the
organisation chooser, ``prompt=select_account``, ``org_hint``); refresh and userinfo follow the
same rule when memberships change under a live grant (``idp users move``)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from idp.cli import Context, cli
from idp.domain import organisations
from idp.extensions import db
from idp.models import AuthSession
from tests.journeys import page_text
from tests.oidc_helpers import Callback, RelyingParty, csrf_token

SFA = ("submit_for_assessment",)


@pytest.fixture
def run(app, overrides):
    def invoke(*args: str):
        ctx = Context()
        ctx.overrides = overrides
        result = CliRunner().invoke(cli, list(args), obj=ctx)
        if ctx._app is not None:
            with ctx._app.app_context():
                db.engine.dispose()
        assert result.exit_code == 0, result.output
        return result

    return invoke


@pytest.fixture
def two_centres(make):
    """A teacher at AA101 and at BB102, with a Submit for Assessment role at both."""
    aa = make.org("AA101", name="Centre A")
    bb = make.org("BB102", name="Centre B")
    teacher = make.user("teacher@example.org", org=aa, roles=("sfa.teacher",))
    organisations.set_roles(teacher, bb, ("sfa.exams_officer",), make.catalogue)
    db.session.commit()
    return teacher


def _choose(rp: RelyingParty, page, code: str, decision: str = "choose"):
    ix = re.search(r'name="ix" value="([^"]+)"', page_text(page)).group(1)
    data = {"csrf_token": csrf_token(page), "ix": ix, "organisation": code, "decision": decision}
    return rp.follow(rp.http.post("/authorize/organisation", data=data))


def _to_chooser(rp: RelyingParty, email: str, **params):
    """Authorize (signing in if asked) up to the organisation chooser."""
    result = rp.follow(rp.authorize(**params))
    if not isinstance(result, Callback) and "Sign in" in page_text(result):
        result = rp.follow(rp.submit_login(result, email))
    assert not isinstance(result, Callback), result.params
    assert "Which organisation are you acting for?" in page_text(result)
    return result


def _claims(rp: RelyingParty, callback: Callback) -> dict:
    tokens = rp.exchange(callback.code).get_json()
    return rp.verify_id_token(tokens["id_token"]) | {"_tokens": tokens}


def test_a_teacher_at_two_centres_chooses_and_the_token_says_so(client, make, two_centres):
    rp = RelyingParty(client, make.client(services=SFA))
    page = _to_chooser(rp, "teacher@example.org")
    assert "AA101 – Centre A" in page_text(page) and "BB102 – Centre B" in page_text(page)
    assert "Submit for Assessment: Exams Officer" in page_text(page)  # what each one gives
    claims = _claims(rp, _choose(rp, page, "BB102"))
    # BB102, though AA101 sorts first.
    assert claims["org"]["code"] == "BB102" and claims["roles"] == ["sfa.exams_officer"]
    # The choice is the session's: the next sign-in asks nothing and the home page agrees.
    again = rp.follow(rp.authorize())
    assert isinstance(again, Callback)
    assert _claims(rp, again)["org"]["code"] == "BB102"
    assert "Acting for BB102 – Centre B" in page_text(client.get("/"))


def test_without_a_choice_nothing_is_picked_by_order(client, make, two_centres):
    """prompt=none cannot ask: it is an error, never AA101 because it sorts first."""
    rp = RelyingParty(client, make.client(services=SFA))
    _to_chooser(rp, "teacher@example.org")
    answer = rp.follow(rp.authorize(prompt="none"))
    assert answer.params["error"] == "account_selection_required"


def test_select_account_shows_the_chooser_again(client, make, two_centres):
    rp = RelyingParty(client, make.client(services=SFA))
    _choose(rp, _to_chooser(rp, "teacher@example.org"), "BB102")
    page = _to_chooser(rp, "teacher@example.org", prompt="select_account")
    assert 'value="BB102" checked' in page_text(page)  # the current choice, preselected
    assert _claims(rp, _choose(rp, page, "AA101"))["org"]["code"] == "AA101"


def test_one_organisation_holding_the_clients_roles_is_used_without_asking(client, make):
    aa = make.org("AA101", name="Centre A")
    teacher = make.user("teacher@example.org", org=make.org("ZZ001"), roles=("aa.nominated_user",))
    organisations.set_roles(teacher, aa, ("sfa.teacher",), make.catalogue)
    db.session.commit()
    rp = RelyingParty(client, make.client(services=SFA))
    claims = _claims(rp, rp.sign_in("teacher@example.org"))
    assert claims["org"]["code"] == "AA101" and claims["roles"] == ["sfa.teacher"]


def test_org_hint_names_a_centre_the_person_acts_for(client, make, two_centres):
    rp = RelyingParty(client, make.client(services=SFA))
    claims = _claims(rp, rp.sign_in("teacher@example.org", org_hint="bb102"))
    assert claims["org"]["code"] == "BB102"


def test_org_hint_for_a_foreign_centre_is_ignored(client, make, two_centres):
    make.org("ZZ999", name="Someone else's centre")
    rp = RelyingParty(client, make.client(services=SFA))
    # Two centres of her own: the chooser, without the foreign one.
    page = _to_chooser(rp, "teacher@example.org", org_hint="ZZ999")
    assert "ZZ999" not in page_text(page)
    # Posting it anyway: 404, and the session acts for nothing new.
    assert _choose(rp, page, "ZZ999").status_code == 404
    assert db.session.scalar(db.select(AuthSession.organisation_id)) is None


def test_org_hint_never_grants_a_centre_to_someone_with_one(client, make):
    make.org("ZZ999")
    make.user("one@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client(services=SFA))
    claims = _claims(rp, rp.sign_in("one@example.org", org_hint="ZZ999"))
    assert claims["org"]["code"] == "AA101"


def test_an_associate_acts_for_its_associate_centre_only(client, make):
    make.org("CA200", name="Associate")
    make.org("CA201", name="Associate centre one", associate_of="CA200")
    make.org("ZZ999", name="Not one of its centres")
    make.user(
        "associate@example.org",
        org=organisations.get_by_code("CA200"),
        roles=("user_management", "sfa.exams_officer"),
    )
    rp = RelyingParty(client, make.client(services=SFA))
    # One organisation holds her Submit for Assessment roles: no question.
    assert _claims(rp, rp.sign_in("associate@example.org"))["org"]["code"] == "CA200"
    page = _to_chooser(rp, "associate@example.org", prompt="select_account")
    assert "CA201 – Associate centre one" in page_text(page)
    assert _choose(rp, page, "ZZ999").status_code == 404
    page = _to_chooser(rp, "associate@example.org", prompt="select_account")
    claims = _claims(rp, _choose(rp, page, "CA201"))
    assert claims["org"]["code"] == "CA201" and claims["roles"] == []
    assert _claims(rp, rp.sign_in("associate@example.org", org_hint="ZZ999"))["org"]["code"] == (
        "CA201"
    )


def test_cancelling_the_chooser_tells_the_client(client, make, two_centres):
    rp = RelyingParty(client, make.client(services=SFA))
    answer = _choose(rp, _to_chooser(rp, "teacher@example.org"), "", decision="cancel")
    assert answer.params["error"] == "access_denied"


def test_refresh_follows_a_move_to_another_centre(client, make, run):
    make.org("AA101", name="Centre A")
    make.org("BB102", name="Centre B")
    make.user("mover@example.org", org=organisations.get_by_code("AA101"), roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client(services=SFA))
    first = _claims(rp, rp.sign_in("mover@example.org"))
    assert first["org"]["code"] == "AA101"
    run("users", "move", "mover@example.org", "--from", "AA101", "--to", "BB102")
    refreshed = rp.refresh(first["_tokens"]["refresh_token"]).get_json()
    claims = rp.verify_id_token(refreshed["id_token"])
    assert claims["org"]["code"] == "BB102" and claims["roles"] == ["sfa.teacher"]
    info = rp.userinfo(first["_tokens"]["access_token"]).get_json()
    assert info["org"]["code"] == "BB102" and info["roles"] == ["sfa.teacher"]
    # The new refresh token remembers BB102.
    again = rp.refresh(refreshed["refresh_token"]).get_json()
    assert rp.verify_id_token(again["id_token"])["org"]["code"] == "BB102"


def test_refresh_does_not_guess_when_several_centres_would_do(client, make, run, two_centres):
    make.org("CC103", name="Centre C")
    rp = RelyingParty(client, make.client(services=SFA))
    first = _claims(rp, _choose(rp, _to_chooser(rp, "teacher@example.org"), "AA101"))
    assert first["org"]["code"] == "AA101"
    run("users", "move", "teacher@example.org", "--from", "AA101", "--to", "CC103")
    answer = rp.refresh(first["_tokens"]["refresh_token"])
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    info = rp.userinfo(first["_tokens"]["access_token"])
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]
    # Back through authorization: the chooser, and the token speaks for the choice.
    page = _to_chooser(rp, "teacher@example.org")
    assert "AA101" not in page_text(page)
    assert _claims(rp, _choose(rp, page, "CC103"))["org"]["code"] == "CC103"


def test_a_grant_keeps_its_organisation_while_it_holds(client, make, run, two_centres):
    """Moving between two other centres changes nothing for a grant speaking for BB102."""
    make.org("CC103")
    rp = RelyingParty(client, make.client(services=SFA))
    first = _claims(rp, _choose(rp, _to_chooser(rp, "teacher@example.org"), "BB102"))
    run("users", "move", "teacher@example.org", "--from", "AA101", "--to", "CC103")
    refreshed = rp.refresh(first["_tokens"]["refresh_token"]).get_json()
    assert rp.verify_id_token(refreshed["id_token"])["org"]["code"] == "BB102"


def test_the_chooser_needs_its_own_browser(client, app, make, two_centres):
    rp = RelyingParty(client, make.client(services=SFA))
    page = _to_chooser(rp, "teacher@example.org")
    ix = re.search(r'name="ix" value="([^"]+)"', page_text(page)).group(1)
    assert app.test_client().get(f"/authorize/organisation?ix={ix}").status_code == 410


def test_org_asked_by_the_claims_parameter_gets_the_chooser_too(client, make, two_centres):
    """A first-party client may name ``org`` in ``claims`` without the ``roles`` scope: the
    same rule, never the first centre by order."""
    rp = RelyingParty(client, make.client(services=SFA))
    wanted = '{"id_token": {"org": null, "roles": null}}'
    page = _to_chooser(rp, "teacher@example.org", scope="openid", claims=wanted)
    claims = _claims(rp, _choose(rp, page, "BB102"))
    assert claims["org"]["code"] == "BB102" and claims["roles"] == ["sfa.exams_officer"]
