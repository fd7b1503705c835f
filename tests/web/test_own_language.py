"""A person's own language: kept from their choice, used by emails others cause, and sent to
services as the ``locale`` claim."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.models import User
from tests.journeys import confirm_address_change, location, page_text, sign_in, submit
from tests.oidc_helpers import RelyingParty, csrf_token


def _language_of(page: str) -> str:
    match = re.search(r'<html lang="([a-z]+)"', page)
    assert match, page[:200]
    return match.group(1)


def _stored(address: str) -> str | None:
    """The language kept for the account of ``address``."""
    db.session.expire_all()
    return next(u.locale for u in db.session.scalars(db.select(User)) if u.email == address)


def _choose_spanish_and_sign_in(client, address: str) -> None:
    client.get("/login?lang=es")
    assert location(sign_in(client, address)) == "/"


def test_a_language_chosen_before_signing_in_follows_the_person_to_another_browser(app, make):
    make.user("tina@example.org")
    _choose_spanish_and_sign_in(app.test_client(), "tina@example.org")
    assert _stored("tina@example.org") == "es"

    elsewhere = app.test_client()
    elsewhere.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    assert _language_of(page_text(elsewhere.get("/login"))) == "en"  # nobody known yet
    assert location(sign_in(elsewhere, "tina@example.org")) == "/"
    assert _language_of(page_text(elsewhere.get("/"))) == "es"  # a browser default undoes nothing
    assert _stored("tina@example.org") == "es"


def test_until_they_choose_the_browser_of_their_first_sign_in_sets_it(app, make):
    make.user("tina@example.org")
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es-MX,es;q=0.9"
    assert location(sign_in(browser, "tina@example.org")) == "/"
    assert _stored("tina@example.org") == "es"


def test_the_footer_switch_while_signed_in_changes_the_locale_claim(app, client, make):
    make.user("tina@example.org", org=make.org(), roles=("sfa.teacher",))
    rp = RelyingParty(client, make.client())
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    first = rp.tokens("tina@example.org", scope="openid profile")
    claims = rp.verify_id_token(first["id_token"])
    assert claims["locale"] == "en"
    assert rp.userinfo(first["access_token"]).get_json()["locale"] == "en"

    assert _language_of(page_text(client.get("/?lang=es"))) == "es"
    assert _stored("tina@example.org") == "es"
    # The next token says so, and its updated_at moved with it.
    callback = rp.follow(rp.authorize(scope="openid profile"))
    again = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
    assert again["locale"] == "es" and again["updated_at"] >= claims["updated_at"]
    # Without the profile scope, no locale.
    bare = rp.follow(rp.authorize(scope="openid"))
    assert "locale" not in rp.verify_id_token(rp.exchange(bare.code).get_json()["id_token"])


def test_an_officers_reset_and_change_of_address_reach_a_person_in_their_own_language(
    app, client, centre, mailbox
):
    _choose_spanish_and_sign_in(app.test_client(), "donald@example.org")
    assert location(sign_in(client, "officer@example.org")) == "/"
    assert _language_of(page_text(client.get("/"))) == "en"  # the officer reads English
    donald = db.session.scalar(db.select(User).where(User.given_name == "Donald")).sub
    view = f"/organisation/AA101/users/{donald}"
    submit(client, f"{view}/password", {"confirm": "yes"}, page_url=view)
    mailbox.wait_for("donald@example.org", "Restablezca su contraseña de My Cambridge")

    submit(client, f"{view}/email", {"email": "donald.duck@example.org"}, page_url=view)
    mailbox.wait_for("donald@example.org", "Se ha solicitado")
    mailbox.wait_for("donald.duck@example.org", "Confirme")
    confirm_address_change(
        app.test_client(), mailbox, "donald.duck@example.org", subject="Confirme su nueva"
    )
    for address in ("donald@example.org", "donald.duck@example.org"):
        mailbox.wait_for(address, "Se ha cambiado la dirección de correo electrónico")
    # The officer's own page stays in English.
    assert _language_of(page_text(client.get(view))) == "en"


def test_an_invitation_to_someone_new_is_in_the_officers_language(client, centre, mailbox):
    client.get("/login?lang=es")
    assert location(sign_in(client, "officer@example.org")) == "/"
    submit(
        client,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": "Nadia",
            "family_name-0": "Nueva",
            "email-0": "nadia@example.org",
            "roles-0": "sfa.teacher",
            "action": "save",
        },
    )
    mailbox.wait_for("nadia@example.org", "Su cuenta de My Cambridge")


def test_an_officer_adding_someone_who_has_an_account_writes_in_that_persons_language(
    app, client, centre, make, mailbox
):
    make.user("sam@example.org", given_name="Sam", family_name="Self")
    _choose_spanish_and_sign_in(app.test_client(), "sam@example.org")
    assert location(sign_in(client, "officer@example.org")) == "/"
    submit(
        client,
        "/organisation/AA101/users/add",
        {
            "rows": "1",
            "given_name-0": "Sam",
            "family_name-0": "Self",
            "email-0": "sam@example.org",
            "roles-0": "sfa.teacher",
            "action": "save",
        },
    )
    mailbox.wait_for("sam@example.org", "AA Dummy Centre A (CIC) le invita a unirse")


def test_someone_elses_choice_on_a_shared_browser_does_not_become_mine(app, make):
    make.user("ana@example.org")
    make.user("ben@example.org")
    ben_elsewhere = app.test_client()
    ben_elsewhere.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert location(sign_in(ben_elsewhere, "ben@example.org")) == "/"
    assert _stored("ben@example.org") == "en"

    shared = app.test_client()
    assert location(sign_in(shared, "ana@example.org")) == "/"
    shared.get("/?lang=es")  # Ana, signed in, chooses Spanish
    assert _stored("ana@example.org") == "es"
    page = shared.get("/logout")
    signed_out = shared.post("/logout", data={"confirm": "yes", "csrf_token": csrf_token(page)})
    assert _language_of(page_text(signed_out)) == "es"  # her signed-out page, in her language

    assert location(sign_in(shared, "ben@example.org")) == "/"  # Ben chose nothing here
    assert _stored("ben@example.org") == "en"
    assert _language_of(page_text(shared.get("/"))) == "en"


def test_another_site_cannot_set_a_persons_own_language(app, client, make):
    make.user("tina@example.org")
    rp = RelyingParty(client, make.client())
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    rp.tokens("tina@example.org", scope="openid profile")
    assert _stored("tina@example.org") == "en"
    # A service adding lang=es to its authorization request, or any site linking to
    # ?lang=es (a top-level navigation carries the SameSite=Lax cookie), as a browser says.
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "cross-site"
    rp.follow(rp.authorize(scope="openid profile", lang="es"))
    assert _language_of(page_text(client.get("/?lang=es"))) == "es"  # the page, for now
    assert _stored("tina@example.org") == "en"
    # Signed out, such a link is not a choice a later sign-in adopts either.
    other = app.test_client()
    other.environ_base.update(HTTP_ACCEPT_LANGUAGE="en", HTTP_SEC_FETCH_SITE="cross-site")
    other.get("/login?lang=es")
    other.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"
    make.user("sam@example.org")
    assert location(sign_in(other, "sam@example.org")) == "/"
    assert _stored("sam@example.org") == "en"
    # The person's own click on our page is a choice.
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"
    client.get("/?lang=es")
    assert _stored("tina@example.org") == "es"
