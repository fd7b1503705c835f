"""English or Spanish: how a page's language is chosen, and that a Spanish page or email has
nothing left in English."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from idp.mail import messages
from tests.factories import PASSWORD
from tests.journeys import location, page_text, sign_in, submit, upload_csv
from tests.mailbox import html_of, text_of
from tests.oidc_helpers import RelyingParty, csrf_token

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "idp" / "translations"
PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.mo"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_ngettext": (1, 2), "N_": None}

ENGLISH_SIGN_IN = "To continue, please sign in to My Cambridge."
SPANISH_SIGN_IN = "Para continuar, inicie sesión en My Cambridge."


def language_of(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, page[:200]
    return match.group(1)


def post_login(client, page, email: str, password: str = PASSWORD):
    """The sign-in form of ``page``, filled in (whatever its language)."""
    form = {"csrf_token": csrf_token(page), "email": email, "password": password}
    ix = re.search(r'name="ix" value="([^"]+)"', page_text(page))
    if ix:
        form["ix"] = ix.group(1)
    return client.post("/login", data=form)


def switch_link(page: str, language: str) -> str:
    match = re.search(rf'<a href="([^"]+)" lang="{language}" hreflang="{language}">', page)
    assert match, "no language switch in the footer"
    return match.group(1).replace("&amp;", "&")


# -- choosing the language -------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("es", "es"),
        ("es-ES,es;q=0.9,en;q=0.5", "es"),
        ("fr, es;q=0.5", "es"),
        ("en", "en"),
        ("en-GB,en;q=0.9,es;q=0.5", "en"),
        (None, "en"),
        ("fr", "en"),
        ("de-DE,fr;q=0.8", "en"),
    ],
)
def test_the_browser_language_chooses_the_sign_in_page_language(client, accept_language, expected):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    page = page_text(client.get("/login", headers=headers))
    assert language_of(page) == expected
    if expected == "es":
        assert SPANISH_SIGN_IN in page and ENGLISH_SIGN_IN not in page
        assert "Iniciar sesión</button>" in page
    else:
        assert ENGLISH_SIGN_IN in page and SPANISH_SIGN_IN not in page


def test_a_service_asking_for_spanish_gets_the_sign_in_pages_in_spanish(client, make):
    user = make.user("teacher@example.org")
    rp = RelyingParty(client, make.client())
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = rp.authorize(ui_locales="fr-CA es-MX en")
    assert page.status_code == 200
    assert language_of(page_text(page)) == "es"
    assert SPANISH_SIGN_IN in page_text(page)
    # A wrong password: the same sign-in, still in Spanish.
    wrong = post_login(client, page, user.email, "not the password")
    assert language_of(page_text(wrong)) == "es"
    assert "Introduzca una dirección de correo electrónico y una contraseña correctas." in (
        page_text(wrong)
    )
    callback = rp.follow(post_login(client, wrong, user.email))
    assert "code" in callback.params
    # The request is over: the person's own pages follow their browser again.
    assert language_of(page_text(client.get("/"))) == "en"


def test_a_service_asking_for_an_unsupported_language_gets_the_browser_language(client, make):
    rp = RelyingParty(client, make.client())
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    assert language_of(page_text(rp.authorize(ui_locales="fr de"))) == "es"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert language_of(page_text(rp.authorize(ui_locales="fr de"))) == "en"


def test_the_footer_switch_changes_the_language_and_it_sticks(client):
    english = page_text(client.get("/login?email=jane%40example.org"))
    assert language_of(english) == "en"
    link = switch_link(english, "es")
    assert "email=jane" in link, "the switch keeps the page's address"
    spanish = page_text(client.get(link))
    assert language_of(spanish) == "es" and SPANISH_SIGN_IN in spanish
    assert 'value="jane@example.org"' in spanish
    # The choice is remembered, whatever the browser says.
    forgot = page_text(client.get("/password/forgot", headers={"Accept-Language": "en"}))
    assert language_of(forgot) == "es" and "Contraseña olvidada" in forgot
    back = page_text(client.get(switch_link(forgot, "en")))
    assert language_of(back) == "en" and "Forgotten password" in back
    assert language_of(page_text(client.get("/login", headers={"Accept-Language": "es"}))) == "en"


def test_the_footer_switch_keeps_the_query_as_it_came(client, centre):
    sign_in(client, "officer@example.org")
    # A query repeating the path's own name, a name given twice, and a language to replace.
    page = page_text(client.get("/organisation/AA101/users?code=x&role=a&role=b&lang=en"))
    link = switch_link(page, "es")
    assert link == "/organisation/AA101/users?code=x&role=a&role=b&lang=es"
    assert language_of(page_text(client.get(link))) == "es"


def test_the_footer_switch_during_a_services_sign_in_keeps_the_request(client, make):
    user = make.user("teacher@example.org")
    rp = RelyingParty(client, make.client())
    page = page_text(rp.authorize(ui_locales="es"))
    assert language_of(page) == "es"
    english = client.get(switch_link(page, "en"))
    assert language_of(page_text(english)) == "en"
    assert 'name="ix"' in page_text(english), "still the service's sign-in"
    callback = rp.follow(rp.submit_login(english, user.email))
    assert "code" in callback.params


def test_discovery_lists_the_languages(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["ui_locales_supported"] == ["en", "es"]


def test_protocol_errors_stay_in_english(client):
    response = client.post("/register", json={}, headers={"Accept-Language": "es"})
    assert response.status_code in (400, 401)
    body = response.get_json()
    assert body["error"] and body["error_description"].isascii()


# -- the catalogue ---------------------------------------------------------------------


def _catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="es")


def _msgid(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_every_message_has_a_spanish_translation():
    catalogue = _catalogue()
    assert len(catalogue) > 500
    for message in catalogue:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"untranslated: {message.id!r}"


def test_every_marked_string_in_the_sources_is_in_the_catalogue():
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    in_sources = {
        _msgid(found[2])
        for found in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    }
    in_catalogue = {_msgid(m.id) for m in _catalogue() if m.id}
    assert len(in_sources) > 500
    missing = sorted(in_sources - in_catalogue)
    assert not missing, f"not in messages.po (run pybabel extract and update): {missing[:10]}"


def _messages(catalogue) -> dict:
    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalogue if m.id}


def test_the_compiled_catalogue_matches_the_po_file():
    compiled = BytesIO()
    write_mo(compiled, _catalogue())
    compiled.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)
    assert _messages(committed) == _messages(read_mo(compiled)), "run pybabel compile"


# -- nothing left in English -----------------------------------------------------------


class _Text(HTMLParser):
    """Visible text nodes and the attributes people read or hear."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "title", "placeholder", "aria-label") and value:
                self.found.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(" ".join(data.split()))


def _english_with_a_different_spanish() -> set[str]:
    english = set()
    for message in _catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        english.update(i for i in ids if i not in strings)
    return english


def _english_left(html: str, english: set[str]) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [text for text in parser.found if text in english]


@pytest.fixture
def english() -> set[str]:
    return _english_with_a_different_spanish()


@pytest.fixture
def spanish(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    return client


@pytest.mark.parametrize("path", ["/login", "/password/forgot", "/signup", "/no-such-page"])
def test_signed_out_pages_in_spanish_have_no_english_left(spanish, english, path):
    response = spanish.get(path)
    assert response.status_code in (200, 404)
    page = page_text(response)
    assert language_of(page) == "es"
    assert _english_left(page, english) == []


def test_signed_in_pages_in_spanish_have_no_english_left(spanish, english, centre):
    assert location(sign_in(spanish, "officer@example.org")) == "/"
    users = page_text(spanish.get("/organisation/AA101/users"))
    donald = re.search(r'href="(/organisation/AA101/users/[^"/]+)">Ver', users)
    assert donald, "the users list links to each person"
    paths = [
        "/",
        "/account/personal",
        "/account/password",
        "/account/security",
        "/account/security/authenticator",
        "/account/apps",
        "/account/connected",
        "/organisation/AA101/users",
        "/organisation/AA101/users/add",
        "/organisation/AA101/users/import",
        "/organisation/AA101/audit",
        donald.group(1),
    ]
    for path in paths:
        response = spanish.get(path)
        assert response.status_code == 200, path
        page = page_text(response)
        assert language_of(page) == "es", path
        assert _english_left(page, english) == [], path
    assert "Le damos la bienvenida, Olga" in page_text(spanish.get("/"))
    assert "Buscar un usuario" in users


def test_a_csv_import_in_spanish_reports_in_spanish(spanish, english, centre, make):
    from idp.domain import imports
    from idp.domain.management import NewUser
    from idp.extensions import db
    from idp.models import User

    officer = db.session.scalar(
        db.select(User).join(User.emails).where(db.text("address = 'officer@example.org'"))
    )
    job = imports.start(officer, centre, [NewUser("Ana", "Uno", "ana@example.org", ())])
    db.session.commit()
    assert location(sign_in(spanish, "officer@example.org")) == "/"
    running = page_text(spanish.get(f"/organisation/AA101/users/import/{job.id}"))
    assert "Invitadas 0 de 1." in running
    assert _english_left(running, english) == []


def test_an_officer_reading_spanish_imports_with_the_role_names_she_reads(spanish, centre):
    """The import page lists the roles in Spanish; a file naming them so, or as configured
    (in English), or by key, is understood alike."""
    assert location(sign_in(spanish, "officer@example.org")) == "/"
    page = page_text(spanish.get("/organisation/AA101/users/import"))
    assert "Submit for Assessment: Docente (<code>sfa.teacher</code>)" in page
    preview = page_text(
        upload_csv(
            spanish,
            b"first_name,last_name,email,roles\n"
            b"Ana,Uno,ana@example.org,Submit for Assessment: docente\n"
            b"Bea,Dos,bea@example.org,Submit for Assessment: Teacher\n"
            b"Cai,Tres,cai@example.org,sfa.teacher\n",
        )
    )
    assert preview.count("Submit for Assessment: Docente") == 3, preview
    assert 'name="batch"' in preview  # nothing refused


def test_an_error_in_a_spanish_form_is_in_spanish(spanish, english):
    page = submit(spanish, "/login", {"email": "nobody@example.org", "password": "wrong"})
    assert "Introduzca una dirección de correo electrónico y una contraseña correctas." in (
        page_text(page)
    )
    assert _english_left(page_text(page), english) == []


def test_a_refusal_with_a_value_in_it_is_in_spanish(app, spanish, english):
    """The domain keeps a message's values apart from its words (``DomainError(N_(...),
    num=...)``); the page translates the words and puts the values in."""
    short = "Tres palabras"
    page = page_text(
        submit(
            spanish,
            "/signup",
            {
                "given_name": "Ana",
                "family_name": "Uno",
                "email": "ana@example.org",
                "password": short,
                "confirm_password": short,
            },
        )
    )
    minimum = app.extensions["idp.settings"].auth.password_min_length
    assert f"La contraseña debe tener al menos {minimum} caracteres." in page
    assert _english_left(page, english) == []


def _email_english_left(message, english: set[str]) -> list[str]:
    lines = [" ".join(line.split()) for line in text_of(message).splitlines()]
    return [line for line in lines if line in english] + _english_left(html_of(message), english)


def test_emails_caused_in_spanish_are_in_spanish(spanish, english, centre, mailbox):
    # A password reset asked for in Spanish.
    submit(spanish, "/password/forgot", {"email": "donald@example.org"})
    reset = mailbox.wait_for("donald@example.org", "Restablezca su contraseña de My Cambridge")
    assert "Estimado/a Donald Duck:" in text_of(reset)
    assert '<html lang="es">' in html_of(reset)
    assert _email_english_left(reset, english) == []
    # An officer working in Spanish adds someone: the invitation is in Spanish too.
    assert location(sign_in(spanish, "officer@example.org")) == "/"
    page = spanish.get("/organisation/AA101/users/add")
    added = spanish.post(
        "/organisation/AA101/users/add",
        data={
            "csrf_token": csrf_token(page),
            "rows": "1",
            "given_name-0": "Ana",
            "family_name-0": "García",
            "email-0": "ana@example.org",
            "roles-0": "sfa.teacher",
            "action": "save",
        },
    )
    assert added.status_code in (200, 302, 303)
    invitation = mailbox.wait_for("ana@example.org", "Su cuenta de My Cambridge")
    assert "Contraseña temporal:" in text_of(invitation)
    assert _email_english_left(invitation, english) == []


def test_emails_outside_a_request_are_in_english(app):
    with app.app_context():
        message = messages.password_reset(to="a@example.org", name="A", token="u", minutes=60)
    assert message["Subject"] == "Reset your My Cambridge password"
    with app.test_request_context(headers={"Accept-Language": "es"}):
        message = messages.password_reset(to="a@example.org", name="A", token="u", minutes=60)
    assert message["Subject"] == "Restablezca su contraseña de My Cambridge"
    assert "El enlace funciona una sola vez, durante 60 minutos." in text_of(message)
