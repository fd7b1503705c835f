"""Helpers for tests that walk the sign-in pages as a person would."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import PASSWORD
from tests.mailbox import Mailbox, code_in, links_in, text_of
from tests.oidc_helpers import csrf_token

TEMP_PASSWORD_RE = re.compile(r"Temporary password: (\S+)")


def submit(
    client: FlaskClient, url: str, data: dict[str, str], page_url: str | None = None
) -> TestResponse:
    """GET the form's page for its CSRF token, then POST the form."""
    page = client.get(page_url or url)
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    return client.post(url, data={"csrf_token": csrf_token(page), **data})


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, **extra: str
) -> TestResponse:
    return submit(client, "/login", {"email": email, "password": password, **extra})


def location(response: TestResponse) -> str:
    assert response.status_code in (302, 303), (response.status_code, page_text(response)[:300])
    return response.headers["Location"]


def page_text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def temporary_password(mailbox: Mailbox, address: str) -> str:
    message = mailbox.wait_for(address, "Your My Cambridge account")
    match = TEMP_PASSWORD_RE.search(text_of(message))
    assert match, text_of(message)
    return match.group(1)


def enter_code(client: FlaskClient, mailbox: Mailbox, address: str, count: int = 1) -> TestResponse:
    code = code_in(mailbox.wait_for(address, "verification code", count=count))
    return submit(client, "/login/verify", {"code": code})


ADDRESS_CHANGE_SUBJECT = "Confirm your new My Cambridge email address"


def address_change_link(
    mailbox: Mailbox, address: str, count: int = 1, subject: str = ADDRESS_CHANGE_SUBJECT
) -> str:
    """The path of the link sent to ``address`` to confirm a change of main address."""
    message = mailbox.wait_for(address, subject, count=count)
    link = next(u for u in links_in(message) if "/email-change/" in u)
    return link.removeprefix("http://localhost")


def confirm_address_change(
    client: FlaskClient,
    mailbox: Mailbox,
    address: str,
    count: int = 1,
    subject: str = ADDRESS_CHANGE_SUBJECT,
) -> TestResponse:
    """Open the link sent to ``address`` and press *Confirm the change*."""
    opened = client.get(address_change_link(mailbox, address, count, subject))
    assert location(opened) == "/email-change/confirm", page_text(opened)[:300]
    return submit(client, "/email-change/confirm", {})


def error_of(response: TestResponse) -> str:
    """The first message of the page's error summary."""
    match = re.search(
        r'class="error-summary__list">\s*<li>(?:<a [^>]*>)?([^<]+)', page_text(response)
    )
    assert match, page_text(response)[:800]
    return match.group(1).strip()


def form_fields(response: TestResponse) -> dict[str, Any]:
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page_text(response)))


def notice_of(page: str) -> str:
    """The text of the page's flashed notice, or ""."""
    match = re.search(r'class="notice notice--\w+" role="status">([^<]+)<', page)
    return match.group(1) if match else ""


def upload_csv(client: FlaskClient, data: bytes, code: str = "AA101") -> TestResponse:
    """Upload ``data`` as a CSV file on the organisation's import page."""
    page = client.get(f"/organisation/{code}/users/import")
    return client.post(
        f"/organisation/{code}/users/import",
        data={"csrf_token": csrf_token(page), "file": (BytesIO(data), "people.csv")},
        content_type="multipart/form-data",
    )
