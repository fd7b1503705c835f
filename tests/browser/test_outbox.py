"""The demo's mail outbox in Chromium: a message's HTML part is shown beside its text part in a
sandboxed frame, where its script does not run and its link opens the provider's page in a new
tab that works as any other."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

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
