"""The demo's mail outbox in Chromium: a message's HTML part is shown beside its text part in a
sandboxed frame, where its script does not run and its link opens the provider's page in a new
tab that works as any other."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from idp import clock
from idp.mail import messages
from idp.mail.transport import OutboxTransport
from tests.browser.pages import check
from tests.servers import serving


def _invitation(base: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["To"] = "You have been invited", "new.teacher@example.org"
    message.set_content(f"Sign in: {base}/login\n")
    message.add_alternative(
        "<!doctype html><html lang='en'><head><title>Invitation</title></head><body>"
        f'<p id="words">Welcome.</p><a href="{base}/login">Sign in</a>'
        "<script>document.getElementById('words').textContent = 'script ran';"
        "parent.document.title = 'script ran';</script>"
        "</body></html>",
        subtype="html",
    )
    return message


def test_the_html_part_is_sandboxed_and_its_link_opens_a_working_tab(
    _schema, base_overrides, tmp_path: Path, new_page, axe_js
):
    outbox = tmp_path / "outbox"
    with serving(base_overrides, tmp_path, workers=1, IDP_MAIL__OUTBOX_DIR=str(outbox)) as (
        _port,
        base,
    ):
        OutboxTransport(outbox).send(_invitation(base))
        page = new_page()
        page.goto(base + "/dev/outbox")
        page.get_by_role("link", name="You have been invited").click()
        frame = page.frame_locator("iframe.mail-html")
        assert frame.locator("#words").text_content() == "Welcome."
        assert page.title() != "script ran"
        assert f"Sign in: {base}/login" in page.locator("pre.mail-text").text_content()
        check(page, axe_js, "dev-outbox-message")

        with page.expect_popup() as opened:
            frame.get_by_role("link", name="Sign in").click()
        tab = opened.value
        tab.wait_for_load_state("load")
        assert tab.url == base + "/login"
        assert tab.get_by_label("Email address").is_visible()


def test_an_email_fits_its_frame_on_a_desktop_and_a_phone(
    _schema, base_overrides, make_app, tmp_path: Path, new_page
):
    """The invitation as sent, framed on the message's page: nothing cut off on the right at
    1280 or 360 px, and the whole of it in view without scrolling the frame."""
    outbox = tmp_path / "outbox"
    with make_app(base_overrides).test_request_context():
        sent = messages.invitation(
            to="aa101.eve@example.org",
            name="Eve Newstarter",
            temporary_password="2CFFSPCkW8gBCk",
            expires_at=clock.now() + timedelta(days=14),
            organisation="AA Dummy Centre A (CIC)",
        )
    with serving(base_overrides, tmp_path, workers=1, IDP_MAIL__OUTBOX_DIR=str(outbox)) as (
        _port,
        base,
    ):
        OutboxTransport(outbox).send(sent)
        [name] = OutboxTransport(outbox).names()
        page = new_page()
        for width, height in ((1280, 900), (360, 740)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{base}/dev/outbox/{name}")
            frame = page.locator("iframe.mail-html").element_handle().content_frame()
            frame.wait_for_load_state("load")
            inside = frame.evaluate(
                "() => ({scroll: document.documentElement.scrollWidth,"
                " client: document.documentElement.clientWidth,"
                " tall: document.documentElement.scrollHeight,"
                " shown: document.documentElement.clientHeight,"
                " overflow: getComputedStyle(document.documentElement).overflowY})"
            )
            assert inside["scroll"] <= inside["client"], (width, inside)  # nothing cut off
            assert inside["overflow"] != "hidden"  # a longer email scrolls in its frame
            assert frame.get_by_text("If the temporary password has expired").is_visible()
            assert inside["tall"] <= inside["shown"], (width, inside)  # all of it in view
            if width == 1280:
                assert inside["client"] >= 600, inside  # the email's own width, and its margins
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
