"""The home page: tiles by role in the acting organisation, and Change Organisation."""

from __future__ import annotations

import re

from tests.journeys import location, page_text, sign_in, submit
from tests.oidc_helpers import RelyingParty


def _usable_tiles(html: str) -> list[str]:
    return re.findall(r'<a class="tile__link" href="([^"]+)"', html)


def test_tiles_follow_the_roles_of_the_organisation_acted_for(client, make):
    first = make.org("AA101", name="Centre A")
    second = make.org("AA102", name="Centre B")
    user = make.user("jane@example.org", org=first, roles=("sfa.teacher",))
    from idp.domain import organisations
    from idp.extensions import db

    organisations.set_roles(user, second, ("aa.nominated_user",), make.catalogue)
    db.session.commit()

    sign_in(client, "jane@example.org")
    home = page_text(client.get("/"))
    assert 'id="organisation"' in home  # the switcher: more than one organisation
    assert _usable_tiles(home) == ["http://127.0.0.1:5101/"]  # Submit for Assessment
    assert "Only your centre's exams officer can use this service." in home  # Global Listening

    response = submit(client, "/organisation", {"organisation": "AA102"}, page_url="/")
    assert location(response) == "/"
    home = page_text(client.get("/"))
    assert "You are now acting for AA102 – Centre B." in home
    assert _usable_tiles(home) == ["http://127.0.0.1:5102/"]  # Access Arrangements

    # Services learn the choice at the next token.
    rp = RelyingParty(client, make.client(services=("access_arrangements",)))
    claims = rp.verify_id_token(
        rp.exchange(rp.sign_in("jane@example.org").code).get_json()["id_token"]
    )
    assert claims["org"]["code"] == "AA102" and claims["roles"] == ["aa.nominated_user"]


def test_one_cannot_switch_to_an_organisation_one_does_not_belong_to(client, make):
    make.org("AA101")
    make.org("ZZ999")
    make.user("jane@example.org", org=make.org("AA103"), roles=("sfa.teacher",))
    sign_in(client, "jane@example.org")
    response = submit(client, "/organisation", {"organisation": "ZZ999"}, page_url="/")
    assert response.status_code == 404
    assert 'id="organisation"' not in page_text(client.get("/"))  # one organisation: no switcher
