"""One function per automated email; each renders ``templates/mail/<name>.txt`` and ``.html``.

``render`` writes the ``Mail`` a domain function asked for (``idp.domain.mailing``) with the
function its ``message`` names. Subjects and bodies are in the recipient's own language when
the mail carries it, else in the language of the request that caused the email (English
outside a request). Links are built from the configured issuer, never from the request's Host
header, so a forged Host cannot turn a password-reset email into a link to another site.

A message with a ``name`` opens "Dear <name>,"; with ``None`` it opens "Hello,". Names are free
text typed by whoever made the account, so mail to an address its reader has not yet proved
to be theirs is sent with ``None`` (see ``verification.name_for``): a stranger's "name" must
not put words, or a link, into our own email to someone else.

An email about an organisation (an invitation from it, a change asked by its officer) wears the
look of that organisation's brand: pass ``brand``, its key. So do a person's codes, reset links
and password notices when all their organisations are of one brand
(``verification.brand_for``). Every other email wears the default look (``Catalogue.look``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from idp import clock, languages
from idp.config import Settings
from idp.domain.mailing import Mail


def _settings() -> Settings:
    return current_app.extensions["idp.settings"]


def link(endpoint: str, **values: Any) -> str:
    """An absolute URL on this provider, from the issuer."""
    issuer = _settings().oidc.issuer
    parts = urlsplit(issuer)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/")
    return adapter.build(endpoint, values, url_scheme=parts.scheme, force_external=True)


def _build(
    template: str, to: str, subject: str, brand: str | None = None, **context: Any
) -> EmailMessage:
    settings = _settings()
    context.setdefault("service_name", "My Cambridge")
    context.setdefault("sign_in_url", link("auth.login"))
    context["look"] = settings.catalogue.look(brand)
    message = EmailMessage()
    message["From"] = settings.mail.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=urlsplit(settings.oidc.issuer).hostname)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template(f"mail/{template}.txt", subject=subject, **context))
    message.add_alternative(
        render_template(f"mail/{template}.html", subject=subject, **context), subtype="html"
    )
    return message


def _when(moment: datetime) -> str:
    return _(
        "%(date)s at %(time)s UTC",
        date=format_date(moment, "d MMMM y", rebase=False),
        time=format_time(moment, "HH:mm", rebase=False),
    )


def invitation(
    *,
    to: str,
    name: str | None,
    temporary_password: str,
    expires_at: datetime,
    organisation: str | None,
    brand: str | None = None,
    exams_officer: bool = False,
) -> EmailMessage:
    return _build(
        "invitation",
        to,
        _("Your My Cambridge account"),
        brand,
        name=name,
        email=to,
        temporary_password=temporary_password,
        expires=_when(expires_at),
        organisation=organisation,
        exams_officer=exams_officer,
        sign_in_url=link("auth.login", email=to),
    )


PURPOSE_TEXT = {
    "activation": _l("Enter it to finish setting up your account."),
    "sign_in": _l("Enter it to finish signing in on a new device."),
    "signup": _l("Enter it to confirm your email address and create your account."),
    "add_email": _l("Enter it to confirm this email address for your account."),
    "change_primary": _l("Enter it to confirm the change of your main email address."),
}


def verification_code(
    *,
    to: str,
    name: str | None,
    code: str,
    purpose: str,
    minutes: int,
    brand: str | None = None,
) -> EmailMessage:
    return _build(
        "verification_code",
        to,
        _("%(code)s is your My Cambridge verification code", code=code),
        brand,
        name=name,
        code=code,
        instruction=str(PURPOSE_TEXT[purpose]),
        minutes=minutes,
    )


def password_reset(
    *,
    to: str,
    name: str | None,
    token: str,
    minutes: int,
    asked_by: str | None = None,
    centre: str | None = None,
    exams_officer: bool = False,
    brand: str | None = None,
) -> EmailMessage:
    """A reset link; ``asked_by`` names the person who asked for it at ``centre`` (the
    exams officer named for it, or another person with User Management there) when it was not
    the account's owner."""
    return _build(
        "password_reset",
        to,
        _("Reset your My Cambridge password"),
        brand,
        name=name,
        url=link("password.open_reset_link", token=token),
        minutes=minutes,
        asked_by=asked_by,
        centre=centre,
        exams_officer=exams_officer,
    )


def password_changed(*, to: str, name: str | None, brand: str | None = None) -> EmailMessage:
    return _build(
        "password_changed",
        to,
        _("Your My Cambridge password was changed"),
        brand,
        name=name,
        forgot_url=link("password.forgot"),
        when=_when(clock.now()),
    )


def connected_account(*, to: str, name: str | None, upstream: str, connected: bool) -> EmailMessage:
    if connected:
        subject = _("%(upstream)s was connected to your My Cambridge account", upstream=upstream)
    else:
        subject = _(
            "%(upstream)s was disconnected from your My Cambridge account", upstream=upstream
        )
    return _build(
        "connected_account",
        to,
        subject,
        name=name,
        upstream=upstream,
        connected=connected,
        when=_when(clock.now()),
        account_url=link("account.connected"),
        forgot_url=link("password.forgot"),
    )


def passkey_changed(
    *, to: str, name: str | None, passkey: str, added: bool, brand: str | None = None
) -> EmailMessage:
    """A passkey was added to the account, or removed from it."""
    if added:
        subject = _("A passkey was added to your My Cambridge account")
    else:
        subject = _("A passkey was removed from your My Cambridge account")
    return _build(
        "passkey_changed",
        to,
        subject,
        brand,
        name=name,
        passkey=passkey,
        added=added,
        when=_when(clock.now()),
        account_url=link("account.security"),
        forgot_url=link("password.forgot"),
    )


def address_in_use(*, to: str) -> EmailMessage:
    return _build(
        "address_in_use",
        to,
        _("Someone tried to add your email address to a My Cambridge account"),
        forgot_url=link("password.forgot"),
    )


def primary_email_changed(*, to: str, name: str | None, old: str, new: str) -> EmailMessage:
    return _build(
        "primary_email_changed",
        to,
        _("Your My Cambridge email address was changed"),
        name=name,
        old=old,
        new=new,
        when=_when(clock.now()),
    )


def address_change_requested(
    *,
    to: str,
    name: str | None,
    new: str,
    by: str,
    organisation: str,
    hours: int,
    brand: str | None = None,
) -> EmailMessage:
    """To the old address: a change of it was asked, by whom, and how to stop it."""
    return _build(
        "address_change_requested",
        to,
        _("A change of your My Cambridge email address was requested"),
        brand,
        name=name,
        old=to,
        new=new,
        by=by,
        organisation=organisation,
        hours=hours,
        when=_when(clock.now()),
        account_url=link("account.personal"),
    )


def address_change_link(
    *, to: str, by: str, organisation: str, token: str, hours: int, brand: str | None = None
) -> EmailMessage:
    """To the new address: the link that makes the change. No name: whoever reads this
    address has not shown yet that the account is theirs."""
    return _build(
        "address_change_link",
        to,
        _("Confirm your new My Cambridge email address"),
        brand,
        by=by,
        organisation=organisation,
        url=link("address.open_link", token=token),
        hours=hours,
    )


def signup_exists(*, to: str) -> EmailMessage:
    return _build(
        "signup_exists",
        to,
        _("You already have a My Cambridge account"),
        forgot_url=link("password.forgot"),
    )


def join_invitation(
    *,
    to: str,
    name: str | None,
    organisation: str,
    code: str,
    inviter: str | None,
    roles: list[str],
    expires_at: datetime,
    brand: str | None = None,
) -> EmailMessage:
    """An organisation invites an existing account to join it: nothing changes until the person
    accepts on their home page."""
    return _build(
        "join_invitation",
        to,
        _("%(organisation)s invites you to join it in My Cambridge", organisation=organisation),
        brand,
        name=name,
        organisation=organisation,
        code=code,
        inviter=inviter,
        roles=roles,
        expires=_when(expires_at),
        home_url=link("home.index"),
    )


def factor_removed(
    *, to: str, name: str | None, factor: str, brand: str | None = None
) -> EmailMessage:
    """The support desk removed the authenticator app (``factor`` "totp") or the recovery
    codes ("recovery_codes") from the account, at the person's request."""
    if factor == "totp":
        subject = _("The authenticator app was removed from your My Cambridge account")
    else:
        subject = _("The recovery codes were removed from your My Cambridge account")
    return _build(
        "factor_removed",
        to,
        subject,
        brand,
        name=name,
        factor=factor,
        when=_when(clock.now()),
        account_url=link("account.security"),
        forgot_url=link("password.forgot"),
    )


MESSAGES: dict[str, Callable[..., EmailMessage]] = {
    "invitation": invitation,
    "verification_code": verification_code,
    "password_reset": password_reset,
    "password_changed": password_changed,
    "connected_account": connected_account,
    "address_in_use": address_in_use,
    "primary_email_changed": primary_email_changed,
    "address_change_requested": address_change_requested,
    "address_change_link": address_change_link,
    "signup_exists": signup_exists,
    "join_invitation": join_invitation,
    "passkey_changed": passkey_changed,
    "factor_removed": factor_removed,
}


def render(mail: Mail) -> EmailMessage:
    """The email ``mail`` describes, in its recipient's language or the current one."""
    with languages.writing_in(mail.locale):
        return MESSAGES[mail.message](to=mail.to, **mail.params)
