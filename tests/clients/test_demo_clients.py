"""The three demo services sign people in through the provider over real HTTP: the provider
runs under gunicorn (``idp serve``), each service is its own Flask app using Authlib's client,
and a requests session plays the browser between them."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from clients.rp import create_rp_app
from clients.services import SERVICES
from idp.domain import management, suspensions, users
from idp.extensions import db
from idp.oidc import backchannel
from tests.factories import PASSWORD
from tests.mailbox import code_in, free_port

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def centre(make):
    aa101 = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(aa101, roles=("sfa.exams_officer", "aa.nominated_user"))
    make.user(
        "teacher@example.org",
        given_name="Tess",
        family_name="Teacher",
        org=aa101,
        roles=("sfa.teacher",),
    )
    return aa101


@pytest.fixture
def services(live_server, make):
    """Each demo service registered with the provider and served on a loopback port of its own
    (the provider calls its back-channel logout endpoint); the tests play its browser through
    a test client of the same app."""
    built, servers = {}, []
    for name, service in SERVICES.items():
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        holds_data = service.holds is not None
        registered = make.client(
            name=service.name,
            client_id=service.client_id,
            services=(service.key,),
            redirect_uri=f"{base}/callback",
            post_logout_redirect_uri=f"{base}/",
            backchannel_logout_uri=f"{base}/backchannel-logout",
            api_scopes=("users.read",) if holds_data else (),
            user_data_uri=f"{base}/user-data" if holds_data else None,
        )
        app = create_rp_app(
            service, issuer=live_server, client_secret=registered.secret, base_url=base
        )
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        built[name] = app.test_client()
    yield built
    for server in servers:
        server.shutdown()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign_in(rp, live_server: str, mailbox, email: str, browser: requests.Session | None = None):
    """Start at the service, sign in at the provider, come back: the service's response."""
    browser = browser or requests.Session()
    authorize = rp.get("/login").headers["Location"]
    assert authorize.startswith(live_server + "/authorize?")
    page = browser.get(authorize, allow_redirects=False, timeout=10)
    if page.status_code == 302:  # already signed in at the provider: straight back
        location = page.headers["Location"]
    else:
        form = {
            "csrf_token": CSRF.search(page.text).group(1),
            "ix": re.search(r'name="ix" value="([^"]+)"', page.text).group(1),
            "email": email,
            "password": PASSWORD,
        }
        response = browser.post(
            live_server + "/login", data=form, allow_redirects=False, timeout=10
        )
        location = response.headers["Location"]
        if location == "/login/verify":
            verify = browser.get(live_server + location, timeout=10)
            code = code_in(mailbox.wait_for(email, "verification code"))
            response = browser.post(
                live_server + location,
                data={"csrf_token": CSRF.search(verify.text).group(1), "code": code},
                allow_redirects=False,
                timeout=10,
            )
            location = response.headers["Location"]
        if location.startswith("/authorize/resume?"):  # the sign-in hands back by redirect
            resumed = browser.get(live_server + location, allow_redirects=False, timeout=10)
            location = resumed.headers["Location"]
    assert not location.startswith(live_server) and "/callback?" in location, location
    back = rp.get(_path(location))
    assert back.status_code == 302 and back.headers["Location"] == "/", back.get_data(as_text=True)
    return rp.get("/"), browser


def test_a_teacher_sees_only_their_own_submissions(services, centre, live_server, mailbox):
    page, _ = sign_in(
        services["submit-for-assessment"], live_server, mailbox, "teacher@example.org"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Your submissions" in html
    assert html.count("<tr>") == 3  # a header and two submissions of her own


def test_the_exams_officer_sees_the_centre_and_its_notifications(
    services, centre, live_server, mailbox
):
    page, browser = sign_in(
        services["submit-for-assessment"], live_server, mailbox, "officer@example.org"
    )
    html = page.get_data(as_text=True)
    assert "All submissions for AA101 – AA Dummy Centre A (CIC)" in html
    assert "Notification settings" in html
    # The centre's teachers, read from the provider's API with a client_credentials token.
    assert "Tess Teacher (teacher@example.org)" in html
    # The same browser is signed in at the provider: the next service needs no password.
    page, _ = sign_in(
        services["global-listening"], live_server, mailbox, "officer@example.org", browser
    )
    assert "Confidential listening audio for AA101" in page.get_data(as_text=True)


def test_services_refuse_people_without_their_role(services, centre, live_server, mailbox):
    page, browser = sign_in(
        services["global-listening"], live_server, mailbox, "teacher@example.org"
    )
    assert page.status_code == 403
    assert "exams officer holds this service" in page.get_data(as_text=True)
    page, _ = sign_in(
        services["access-arrangements"], live_server, mailbox, "teacher@example.org", browser
    )
    assert page.status_code == 403 and "nominated users" in page.get_data(as_text=True)


def test_signing_out_of_a_service_ends_the_provider_session(services, centre, live_server, mailbox):
    rp = services["access-arrangements"]
    page, browser = sign_in(rp, live_server, mailbox, "officer@example.org")
    assert "Access arrangement applications for AA101" in page.get_data(as_text=True)
    end_session = rp.post("/logout").headers["Location"]
    assert end_session.startswith(live_server + "/logout?") and "id_token_hint=" in end_session
    back = browser.get(end_session, allow_redirects=False, timeout=10)
    assert back.headers["Location"].endswith("/") and "/logout" not in back.headers["Location"]
    assert rp.get("/").get_data(as_text=True).count("Sign in with My Cambridge") == 1
    home = browser.get(live_server + "/", allow_redirects=False, timeout=10)
    assert home.headers["Location"].startswith("/login")


def test_a_forged_callback_is_refused(services, centre):
    rp = services["submit-for-assessment"]
    rp.get("/login")
    response = rp.get("/callback?code=forged&state=not-the-state")
    assert response.status_code == 400 and "Sign-in failed" in response.get_data(as_text=True)
    denied = rp.get("/callback?error=access_denied&error_description=You+said+no")
    assert denied.status_code == 400 and "You said no" in denied.get_data(as_text=True)


def test_signing_out_of_one_service_signs_the_others_out_by_back_channel(
    services, centre, live_server, mailbox
):
    sfa, gl = services["submit-for-assessment"], services["global-listening"]
    page, browser = sign_in(sfa, live_server, mailbox, "officer@example.org")
    assert "All submissions for AA101" in page.get_data(as_text=True)
    sign_in(gl, live_server, mailbox, "officer@example.org", browser)
    browser.get(gl.post("/logout").headers["Location"], allow_redirects=False, timeout=10)
    # The provider tells Submit for Assessment after answering the browser: wait a little.
    deadline = time.monotonic() + 10
    while "Sign in with My Cambridge" not in sfa.get("/").get_data(as_text=True):
        assert time.monotonic() < deadline, "no back-channel logout reached the service"
        time.sleep(0.05)


def test_a_logout_token_for_another_service_or_forged_is_refused(
    services, live_server, make_app, overrides
):
    sfa = services["submit-for-assessment"]
    overrides["OIDC"]["ISSUER"] = live_server  # sign as the running provider does
    with make_app(overrides).app_context():
        for_gl = backchannel.logout_token("global-listening", "some-sid", "u_someone")
        right = backchannel.logout_token("submit-for-assessment", "some-sid", "u_someone")
    wrong_audience = sfa.post("/backchannel-logout", data={"logout_token": for_gl})
    assert (
        wrong_audience.status_code == 400
        and "aud" in wrong_audience.get_json()["error_description"]
    )
    assert sfa.post("/backchannel-logout", data={"logout_token": right}).status_code == 200
    forged = sfa.post("/backchannel-logout", data={"logout_token": "e30.e30.AAAA"})
    assert forged.status_code == 400 and forged.get_json()["error"] == "invalid_request"
    assert sfa.post("/backchannel-logout").status_code == 400


def _form(browser: requests.Session, url: str, data: dict[str, str], page: str):
    token = CSRF.search(browser.get(page, timeout=10).text).group(1)
    return browser.post(url, data={"csrf_token": token, **data}, allow_redirects=False, timeout=10)


def test_deleting_a_teacher_waits_for_their_submissions_to_be_transferred(
    services, centre, live_server, mailbox, make
):
    """The guide's support-site rule: delete only after the data a person owns on a service has
    been transferred to another teacher; the service says whether there is any."""
    sfa = services["submit-for-assessment"]
    terry = make.user(
        "terry@example.org",
        given_name="Terry",
        family_name="Tutor",
        org=centre,
        roles=("sfa.teacher",),
    )
    tess_page, _ = sign_in(sfa, live_server, mailbox, "teacher@example.org")
    assert tess_page.get_data(as_text=True).count("<tr>") == 3
    sfa.post("/logout")

    # The exams officer suspends Tess at the provider, then opens Delete.
    officer_sfa = sfa.application.test_client()
    _, browser = sign_in(officer_sfa, live_server, mailbox, "officer@example.org")
    tess = users.find_by_email("teacher@example.org").sub
    person = f"{live_server}/organisation/AA101/users/{tess}"
    assert _form(browser, f"{person}/suspend", {"confirm": "yes"}, person).status_code == 302
    delete_page = browser.get(f"{person}/delete", timeout=10).text
    assert "Submit for Assessment</strong>:" in delete_page
    assert "holds data of Tess (2 submissions)" in delete_page
    assert "Tess Teacher</button>" not in delete_page

    # Deleting anyway is refused; Tess is still there.
    refused = _form(browser, f"{person}/delete", {"confirm": "yes"}, f"{person}/delete")
    assert refused.headers["Location"].endswith(f"/users/{tess}/delete")
    assert browser.get(person, timeout=10).status_code == 200

    # A recipient without a role for the service is refused before the service is asked.
    outsider = make.user("aa.only@example.org", org=centre, roles=("aa.nominated_user",))
    _form(
        browser,
        f"{person}/transfer",
        {"confirm": "yes", "client_id": "submit-for-assessment", "to": outsider.sub},
        f"{person}/delete",
    )
    page = browser.get(f"{person}/delete", timeout=10).text
    assert "Choose someone at AA101 who has a role for this service." in page

    _form(
        browser,
        f"{person}/transfer",
        {"confirm": "yes", "client_id": "submit-for-assessment", "to": terry.sub},
        f"{person}/delete",
    )
    page = browser.get(f"{person}/delete", timeout=10).text
    assert "has transferred the data of Tess Teacher to Terry Tutor" in page
    assert "holds no data of Tess" in page
    deleted = _form(browser, f"{person}/delete", {"confirm": "yes"}, f"{person}/delete")
    assert deleted.headers["Location"].endswith("/organisation/AA101/users")
    assert browser.get(person, timeout=10).status_code == 404

    # Terry now owns the two submissions; the officer's view shows them under his name.
    officer_view = officer_sfa.get("/").get_data(as_text=True)
    assert officer_view.count("<td>Terry Tutor</td>") == 2
    assert "<td>Tess Teacher</td>" not in officer_view
    audit = browser.get(f"{live_server}/organisation/AA101/audit", timeout=10).text
    assert "Data transferred" in audit and "Removed from the organisation" in audit


# -- the services for every family: the Primary support site and OCR Interchange -----------


@pytest.fixture
def primary(centre, make):
    """AA101's Primary support site: Minnie teaches (Progression Test groups), Mickey
    administers; Tom teaches there too but has never visited; Carl teaches at another centre
    and Sid uses only Submit for Assessment."""
    ca201 = make.org("CA201", name="Associate Centre One")
    people = {
        "minnie": make.user(
            "minnie@example.org",
            given_name="Minnie",
            family_name="Mouse",
            org=centre,
            roles=("primary.teacher",),
        ),
        "mickey": make.user(
            "mickey@example.org",
            given_name="Mickey",
            family_name="Mouse",
            org=centre,
            roles=("primary.admin",),
        ),
        "tom": make.user(
            "tom@example.org",
            given_name="Tom",
            family_name="Thumb",
            org=centre,
            roles=("primary.teacher",),
        ),
        "carl": make.user(
            "carl@example.org",
            given_name="Carl",
            family_name="Elsewhere",
            org=ca201,
            roles=("primary.teacher", "primary.admin"),
        ),
        "sid": make.user(
            "sid@example.org",
            given_name="Sid",
            family_name="Submitter",
            org=centre,
            roles=("sfa.teacher",),
        ),
        "sue": make.user(
            "sue@example.org",
            given_name="Sue",
            family_name="Suspended",
            org=centre,
            roles=("primary.admin",),
        ),
    }
    officer = management.member(centre, centre.exams_officer.sub)[0]
    suspensions.suspend(officer, centre, people["sue"], make.catalogue)
    db.session.commit()
    return people


def test_the_primary_support_site_shows_a_teacher_her_groups_and_the_admin_the_centres(
    services, primary, live_server, mailbox
):
    rp = services["primary-support"]
    page, _ = sign_in(rp, live_server, mailbox, "minnie@example.org")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Your Progression Test groups" in html
    assert html.count("<tr>") == 4  # a header and three groups of her own
    assert 'Teacher: your own Progression Test groups <span class="key">(primary.teacher)' in html
    assert "AA101 – AA Dummy Centre A (CIC)" in html
    rp.post("/logout")

    # Carl is administrator at CA201: AA101's groups are not his to see.
    carl = rp.application.test_client()
    html = sign_in(carl, live_server, mailbox, "carl@example.org")[0].get_data(as_text=True)
    assert "Progression Test groups at CA201" in html
    assert "Minnie Mouse" not in html and "Tom Thumb" not in html

    admin = rp.application.test_client()
    page, _ = sign_in(admin, live_server, mailbox, "mickey@example.org")
    html = page.get_data(as_text=True)
    assert "Progression Test groups at AA101 – AA Dummy Centre A (CIC)" in html
    # Minnie's groups and Tom's (he has them from before he first visits), no one else's.
    assert html.count("<td>Minnie Mouse</td>") == 3 and html.count("<td>Tom Thumb</td>") == 3
    assert html.count("<tr>") == 7 and "Carl Elsewhere" not in html
    assert "Administrator: every Progression Test group of the centre" in html
    assert "(primary.admin)" in html and "(primary.teacher)" not in html


def _ask(make_app, overrides, live_server, client_id: str, **claims) -> str:
    """A user-data request as the running provider signs it."""
    from idp.oidc import data_holders

    overrides["OIDC"]["ISSUER"] = live_server
    with make_app(overrides).app_context():
        return data_holders.signed_request(client_id, claims)


def test_the_support_site_transfers_groups_only_to_a_colleague_at_the_same_centre(
    services, primary, live_server, make_app, overrides
):
    """Asked by the provider, the site says what a teacher holds and gives it only to someone
    who uses the site at the same centre: a forged or mistaken recipient is refused."""
    rp = services["primary-support"]

    def ask(org="AA101", **claims):
        token = _ask(make_app, overrides, live_server, "primary-support", org=org, **claims)
        return rp.post("/user-data", data={"request": token})

    minnie, mickey = primary["minnie"].sub, primary["mickey"].sub
    held = ask(sub=minnie, action="query")
    assert held.get_json() == {"holds_data": True, "summary": "3 Progression Test groups"}
    assert ask(sub=mickey, action="query").get_json()["holds_data"] is False

    # No role here; another centre; suspended here; herself.
    for outsider in ("sid", "carl", "sue", "minnie"):
        refused = ask(sub=minnie, action="transfer", transfer_to=primary[outsider].sub)
        assert refused.status_code == 409, outsider
        assert refused.get_json()["error"] == "transfer_refused"
        assert (
            "does not use the Cambridge Primary support site"
            in refused.get_json()["error_description"]
        )
    assert ask(sub=minnie, action="query").get_json()["summary"] == "3 Progression Test groups"

    moved = ask(sub=minnie, action="transfer", transfer_to=mickey)
    assert moved.status_code == 200 and moved.get_json() == {"transferred": True}
    assert ask(sub=minnie, action="query").get_json() == {"holds_data": False, "summary": ""}
    assert ask(sub=mickey, action="query").get_json()["summary"] == "3 Progression Test groups"

    # A centre the API will not describe: the site cannot say, and does not say "nothing".
    unknown = ask(org="ZZ999", sub=minnie, action="query")
    assert unknown.status_code == 503 and "holds_data" not in unknown.get_json()


def test_deleting_a_primary_teacher_waits_for_her_groups_to_be_transferred(
    services, primary, live_server, mailbox
):
    """The guide's rule, on the service it comes from: a teacher's Progression Test groups go
    to another teacher before she is deleted (she need never have opened the site)."""
    officer_rp = services["primary-support"]
    _, browser = sign_in(services["global-listening"], live_server, mailbox, "officer@example.org")
    minnie = primary["minnie"].sub
    person = f"{live_server}/organisation/AA101/users/{minnie}"
    assert _form(browser, f"{person}/suspend", {"confirm": "yes"}, person).status_code == 302
    delete_page = browser.get(f"{person}/delete", timeout=10).text
    assert "Cambridge Primary support site</strong>:" in delete_page
    assert "holds data of Minnie (3 Progression Test groups)" in delete_page

    refused = _form(browser, f"{person}/delete", {"confirm": "yes"}, f"{person}/delete")
    assert refused.headers["Location"].endswith(f"/users/{minnie}/delete")
    assert browser.get(person, timeout=10).status_code == 200

    _form(
        browser,
        f"{person}/transfer",
        {"confirm": "yes", "client_id": "primary-support", "to": primary["mickey"].sub},
        f"{person}/delete",
    )
    page = browser.get(f"{person}/delete", timeout=10).text
    assert "has transferred the data of Minnie Mouse to Mickey Mouse" in page
    deleted = _form(browser, f"{person}/delete", {"confirm": "yes"}, f"{person}/delete")
    assert deleted.headers["Location"].endswith("/organisation/AA101/users")

    # The administrator now sees Minnie's three groups under his own name.
    page, _ = sign_in(officer_rp, live_server, mailbox, "mickey@example.org")
    html = page.get_data(as_text=True)
    assert html.count("<td>Mickey Mouse</td>") == 3 and "Minnie Mouse" not in html


def test_ocr_interchange_refuses_a_cambridge_teacher_with_a_reason_and_a_way_home(
    services, centre, live_server, mailbox, make
):
    rp = services["ocr-interchange"]
    page, _ = sign_in(rp, live_server, mailbox, "teacher@example.org")
    html = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "OCR Interchange is for OCR centres" in html
    assert "AA101 – AA Dummy Centre A (CIC) gave you none" in html
    assert f'<a href="{live_server}/">Back to My Cambridge</a>' in html
    assert "Roles for this service</dt>\n    <dd>none</dd>" in html
    rp.post("/logout")

    oc301 = make.org("OC301", name="OCR Dummy Centre", brand="ocr")
    make.exams_officer(oc301, "olive@example.org", roles=("ocr.interchange",))
    olive = rp.application.test_client()
    page, _ = sign_in(olive, live_server, mailbox, "olive@example.org")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "OCR Interchange for OC301 – OCR Dummy Centre" in html
    assert "OCR Interchange: entries and results for the centre" in html
    assert "(ocr.interchange)" in html and "user_management" not in html


def test_every_service_shows_the_roles_it_received(services, centre, live_server, mailbox):
    browser = None
    expected = {
        "submit-for-assessment": ("Exams Officer: every submission of the centre", 200),
        "access-arrangements": ("Nominated User: access arrangement applications", 200),
        "global-listening": ("Exams Officer: confidential listening audio", 200),
        "primary-support": ("none", 403),
    }
    for name, (role_words, status) in expected.items():
        page, browser = sign_in(
            services[name], live_server, mailbox, "officer@example.org", browser
        )
        html = page.get_data(as_text=True)
        assert page.status_code == status, name
        assert "What My Cambridge told this service" in html
        assert "Olga Officer (officer@example.org)" in html
        assert "AA101 – AA Dummy Centre A (CIC)" in html
        assert role_words in html, name
        # Only this service's roles: the provider filters them, and the page shows them all.
        others = {"sfa.exams_officer", "aa.nominated_user", "gl.exams_officer"}
        shown = set(re.findall(r'class="key">\(([^)]+)\)', html))
        assert shown == (others & SERVICES[name].roles.keys()), name
        if status == 403:
            assert f'<a href="{live_server}/">Back to My Cambridge</a>' in html
            assert "Roles for this service</dt>\n    <dd>none</dd>" in html


def test_each_service_has_a_favicon_of_its_own_and_a_title_that_says_where_you_are(services):
    icons = {}
    for name, rp in services.items():
        icon = rp.get("/favicon.ico")
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        icons[name] = icon.get_data(as_text=True)
        page = rp.get("/").get_data(as_text=True)
        assert 'rel="icon" href="/favicon.ico"' in page
        title = page.split("<title>")[1].split("</title>")[0]
        service_name = title.rsplit(" – ", 1)[1].removesuffix(" (demo)")
        assert title.count(service_name) == 1, title  # "Sign in – Global Listening (demo)"
    assert len(set(icons.values())) == len(services)  # colour and initials tell them apart
