"""The home page by brand: every service of the brand of the organisation acted for has a tile
under the brand's name, usable with a role held (the roles named in words), "Not available
yet" while it has no address; the pages and the emails about an organisation wear its brand's
look, which nothing in the request can pick."""

from __future__ import annotations

import copy
import re

import pytest

from idp import catalogue as catalogue_module
from idp.catalogue import DEFAULT_CATALOGUE, Catalogue, CatalogueError
from idp.domain import organisations
from idp.extensions import db
from tests.journeys import page_text, sign_in, submit
from tests.mailbox import html_of, text_of

OCR_COLOUR = "#4a2371"


def _tiles(html: str) -> dict[str, str]:
    """Each tile's name and its text (markup removed, spaces squeezed)."""
    found = re.findall(r'<li class="tile[^"]*">(.*?)</li>', html, re.S)
    out = {}
    for tile in found:
        name = re.search(r'<span class="tile__name">([^<]*)</span>', tile).group(1)
        out[name] = " ".join(re.sub(r"<[^>]+>", " ", tile).split())
    return out


def _links(html: str) -> dict[str, str]:
    return dict(
        (name, href)
        for href, name in re.findall(
            r'<a class="tile__link" href="([^"]+)">\s*<span class="tile__name">([^<]*)</span>',
            html,
        )
    )


def _headings(html: str) -> list[str]:
    return re.findall(r'<h3 class="brand-group__name"[^>]*>([^<]*)</h3>', html)


def _look(html: str) -> str:
    return re.search(r'<body class="look-([a-z0-9-]+)">', html).group(1)


@pytest.fixture
def ocr_centre(make):
    centre = make.org("OC301", name="OCR Dummy Centre", brand="ocr")
    make.exams_officer(centre, "olive@example.org", roles=("ocr.interchange",))
    return centre


def test_the_ocr_officer_sees_ocr_services_under_ocr_in_ocr_look(client, ocr_centre):
    sign_in(client, "olive@example.org")
    home = page_text(client.get("/"))
    assert _headings(home) == ["Cambridge OCR"]
    assert _links(home) == {
        "My Cambridge (OCR)": "/organisation/",  # User Management: My Organisation, one click
        "OCR Interchange": "/launch/ocr_interchange",
    }
    assert "Your role: OCR Interchange" in _tiles(home)["OCR Interchange"]
    assert "Submit for Assessment" not in home  # another brand's services are not hers
    assert _look(home) == "ocr"
    assert '<span class="brand__board">Cambridge OCR</span>' in home
    assert ">OCR</span>" in home  # the mark
    # Every page she sees wears it, not the home page alone.
    assert _look(page_text(client.get("/account/personal"))) == "ocr"


def test_a_cambridge_international_teacher_keeps_that_look_whatever_the_query(client, make):
    make.user("t@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    sign_in(client, "t@example.org")
    for query in ("", "?brand=ocr", "?look=ocr&org=OC301"):
        home = page_text(client.get("/" + query))
        assert _look(home) == "cambridge-international"
        assert "Cambridge OCR</span>" not in home and _headings(home) == [
            "Cambridge International Education"
        ]


def test_the_look_follows_the_organisation_chosen(client, make, ocr_centre):
    """A person at a Cambridge International centre and an OCR centre: OCR's look while acting
    for the OCR centre only."""
    person = make.user("both@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    organisations.set_roles(person, ocr_centre, ("ocr.interchange",), make.catalogue)
    db.session.commit()
    sign_in(client, "both@example.org")
    assert _look(page_text(client.get("/"))) == "cambridge-international"  # none chosen yet
    submit(client, "/change-organisation", {"organisation": "OC301"})
    home = page_text(client.get("/"))
    assert _look(home) == "ocr" and _headings(home) == ["Cambridge OCR"]
    submit(client, "/change-organisation", {"organisation": "AA101"})
    assert _look(page_text(client.get("/"))) == "cambridge-international"


def test_a_service_without_an_address_is_not_available_yet_and_admin_rights_show(client, make):
    make.user("admin@example.org", org=make.org("AA101"), roles=("ssh.teacher", "ssh.admin"))
    sign_in(client, "admin@example.org")
    home = page_text(client.get("/"))
    tiles = _tiles(home)
    hub = tiles["School Support Hub"]
    assert "Not available yet" in hub and "Your roles: Teacher, Administrator" in hub
    assert "ssh." not in home  # role keys are never shown
    assert "School Support Hub" not in _links(home)  # a tile that leads nowhere is no link
    # A service she lacks that has no address yet is not available yet, and that is all it
    # says: asking for a role would be no use. One with an address says whom to ask.
    lower = tiles["Cambridge Lower Secondary support site"]
    assert "Not available yet" in lower and "Support for Cambridge Lower Secondary" in lower
    assert "role" not in lower.lower() and "Ask" not in lower
    assert "Not available yet" not in tiles["Submit for Assessment"]
    assert "You do not have a role for this service" in tiles["Submit for Assessment"]


def test_without_a_centre_every_brand_is_shown_by_name_none_usable(client, make):
    make.user("alone@example.org")
    sign_in(client, "alone@example.org")
    home = page_text(client.get("/"))
    assert _headings(home) == ["Cambridge International Education", "Cambridge OCR"]
    assert _links(home) == {}
    assert {"OCR Interchange", "School Support Hub", "Global Listening"} <= set(_tiles(home))


def test_an_operator_without_a_centre_is_sent_to_the_console_not_to_an_officer(
    client, make, app, sign_in_staff
):
    sign_in_staff("operator@example.org")
    home = page_text(client.get("/"))
    assert "exams officer" not in home.lower()
    assert "not part of a centre yet" not in home
    assert 'from the <a href="/console/">Console</a>' in home
    assert "You do not have a role for this service." in _tiles(home)["Submit for Assessment"]

    # Anyone else without a centre is still told whom to ask.
    make.user("alone@example.org")
    someone = app.test_client()
    sign_in(someone, "alone@example.org")
    other = page_text(someone.get("/"))
    assert "Ask your centre's exams officer" in other and "/operator/clients" not in other


def test_a_teacher_does_not_get_my_organisation(client, make):
    make.user("t@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    sign_in(client, "t@example.org")
    home = page_text(client.get("/"))
    assert _links(home) == {"Submit for Assessment": "/launch/submit_for_assessment"}
    assert "You do not have a role for this service" in _tiles(home)["My Cambridge"]


# -- the looks' stylesheet and the catalogue's checks -------------------------------------------


def test_the_brands_stylesheet_is_linked_by_digest_and_carries_each_look(client):
    page = page_text(client.get("/login"))
    href = re.search(r'href="(/brands\.css\?v=[0-9a-f]{16})"', page).group(1)
    response = client.get(href)
    assert response.mimetype == "text/css"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    css = response.get_data(as_text=True)
    assert f".look-ocr{{--brand:{OCR_COLOUR};" in css
    assert client.get("/brands.css?v=0").headers["Cache-Control"] == "public, max-age=300"


def _with_brand(**look):
    data = copy.deepcopy(DEFAULT_CATALOGUE)
    data["brands"] = [dict(data["brands"][0], **look)]
    data["services"] = [s for s in data["services"] if s["brand"] == "cambridge-international"]
    keep = {s["key"] for s in data["services"]}
    data["roles"] = [r for r in data["roles"] if r["service"] in keep]
    return data


@pytest.mark.parametrize(
    ("look", "message"),
    [
        ({"colour": "#ffdd00"}, "colour #ffdd00 is too light to read against white"),
        ({"accent": "#00ff00"}, "accent #00ff00 is too light"),
        ({"colour": "navy"}, "colour must be a colour like"),
        ({"accent": "#1d3f6e;}body{x:y"}, "accent must be a colour like"),
        ({"mark": "<b>"}, "mark must be one to three letters or digits"),
        ({"mark": "ABCD"}, "mark must be one to three letters or digits"),
        ({"mark_shape": "star"}, "mark_shape must be one of circle, square"),
    ],
)
def test_a_brand_look_that_cannot_be_read_or_drawn_is_refused(look, message):
    with pytest.raises(CatalogueError, match=re.escape(message)):
        Catalogue.from_config(_with_brand(**look))


def test_a_brand_key_must_be_fit_for_a_class_name():
    data = _with_brand(key='x" onload="y')
    for service in data["services"]:
        service["brand"] = 'x" onload="y'
    with pytest.raises(CatalogueError, match="use lower-case letters, digits and hyphens"):
        Catalogue.from_config(data)


def test_a_brand_without_a_look_gets_the_default_one_and_its_initials():
    brand = catalogue_module.Brand(key="b", name="Board of Examiners")
    assert brand.problems() == [] and brand.colour == "#1d3f6e"
    assert brand.mark_text == "BOE"


# -- emails wear the brand of the organisation they are about ------------------------------------


def test_an_invitation_from_an_ocr_centre_looks_ocr_and_one_from_elsewhere_does_not(
    make, mailbox, ocr_centre
):
    make.invited("ocr-teacher@example.org", org=ocr_centre, roles=("ocr.interchange",))
    make.invited("cie-teacher@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    ocr = html_of(mailbox.wait_for("ocr-teacher@example.org", "Your My Cambridge account"))
    cie = html_of(mailbox.wait_for("cie-teacher@example.org", "Your My Cambridge account"))
    assert OCR_COLOUR in ocr and "Cambridge OCR" in ocr and ">OCR</td>" in ocr
    assert OCR_COLOUR not in cie and "Cambridge OCR" not in cie
    assert "Cambridge International Education" in cie
    # The plain-text part is the same words either way.
    text = text_of(mailbox.wait_for("ocr-teacher@example.org", "Your My Cambridge account"))
    assert "OCR Dummy Centre" in text


# -- the favicon --------------------------------------------------------------------------------


def _icon(page: str) -> str:
    href = re.search(r'<link rel="icon" href="(/brands/[a-z-]+/icon\.svg\?v=[0-9a-f]+)"', page)
    assert href, "no icon linked"
    return href.group(1)


def test_pages_link_a_favicon_and_favicon_ico_is_answered(client):
    linked = client.get(_icon(page_text(client.get("/login"))))
    assert linked.status_code == 200 and linked.mimetype == "image/svg+xml"
    assert linked.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert ">MC</text>" in linked.get_data(as_text=True)  # the default look's mark
    asked = client.get("/favicon.ico")
    assert asked.status_code == 200 and asked.mimetype == "image/svg+xml"
    assert asked.headers["Cache-Control"] == "public, max-age=300"
    assert (
        client.get("/favicon.ico", headers={"If-None-Match": asked.headers["ETag"]}).status_code
        == 304
    )


def test_an_invitation_to_join_an_ocr_centre_looks_ocr(client, make, mailbox, ocr_centre):
    make.user("teacher@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    sign_in(client, "olive@example.org")
    submit(
        client,
        "/organisation/OC301/users/add",
        {
            "rows": "1",
            "given_name-0": "Tina",
            "family_name-0": "Teacher",
            "email-0": "teacher@example.org",
            "roles-0": ["ocr.interchange"],
            "action": "save",
        },
    )
    message = mailbox.wait_for("teacher@example.org", "invites you to join it")
    assert OCR_COLOUR in html_of(message) and "Cambridge OCR" in html_of(message)


def test_mail_about_no_organisation_wears_the_brand_all_their_centres_share(
    client, app, make, mailbox, ocr_centre
):
    """A reset link to an OCR-only person looks OCR; to someone at centres of both brands, the
    default look (no brand is theirs more than the other)."""
    both = make.user("both@example.org", org=make.org("AA101"), roles=("sfa.teacher",))
    organisations.set_roles(both, ocr_centre, ("ocr.interchange",), make.catalogue)
    db.session.commit()
    for address in ("olive@example.org", "both@example.org"):
        submit(app.test_client(), "/password/forgot", {"email": address})
    ocr_only = html_of(mailbox.wait_for("olive@example.org", "Reset your My Cambridge password"))
    mixed = html_of(mailbox.wait_for("both@example.org", "Reset your My Cambridge password"))
    assert OCR_COLOUR in ocr_only and "Cambridge OCR" in ocr_only
    assert OCR_COLOUR not in mixed and "Cambridge International Education" in mixed


def test_the_ocr_look_has_ocrs_mark_in_the_tab(client, ocr_centre):
    sign_in(client, "olive@example.org")
    icon = client.get(_icon(page_text(client.get("/"))))
    assert icon.status_code == 200 and ">OCR</text>" in icon.get_data(as_text=True)
    assert client.get("/brands/no-such-brand/icon.svg").status_code == 404
