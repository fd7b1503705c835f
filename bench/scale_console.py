"""The console's pages in the scale benchmark: the operator's console sign-in, and the
searches timed (``CONSOLE_PAGES``, added to ``scale_pages.operations``).

The console asks for a sign-in confirmed with a passkey, at a named site (the benchmark names
its provider localhost: ``scale.prepare``). The benchmark has no authenticator, and the
WebAuthn ceremony is not what it times: ``console_session`` writes into the scratch database
what confirming would leave. Each page is probed once before timing; one that is not there yet
(another part of the console, still to come) is skipped, with the reason in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from bench.httpclient import path_of

if TYPE_CHECKING:
    from bench.scale_pages import Browser, Site


def console_session(database_url: str, email: str) -> None:
    """Give the operator's live sign-in what confirming it with a passkey would leave: a
    passkey on the account and ``amr`` ["hwk", "user", "mfa"] on its sessions, as the console
    asks (``idp.web.console.blueprint.gate``). The benchmark has no authenticator to answer a
    WebAuthn ceremony, and the ceremony is not what it times; the passkey row is a stand-in
    that never verifies (its public key is empty)."""
    from sqlalchemy import create_engine, insert, select, update

    from idp.models import AuthSession, EmailAddress, Passkey

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            user_id = conn.execute(
                select(EmailAddress.user_id).where(EmailAddress.address == email)
            ).scalar_one()
            has_one = conn.execute(select(Passkey.id).where(Passkey.user_id == user_id)).first()
            if has_one is None:
                conn.execute(
                    insert(Passkey.__table__),
                    {
                        "user_id": user_id,
                        "credential_id": f"scale-bench-{user_id}",
                        "public_key": b"",
                        "name": "Scale benchmark stand-in",
                    },
                )
            conn.execute(
                update(AuthSession.__table__)
                .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
                .values(amr=["hwk", "user", "mfa"])
            )
    finally:
        engine.dispose()


async def console_probe(browser: Browser, target: str) -> str:
    """Why the console page ``target`` cannot be timed ("" when it answers 200): not there
    yet (404), or refused (the console needs a named site and a passkey-confirmed sign-in)."""
    response = await browser.get(target)
    if response.status == 200:
        return ""
    if response.status == 404:
        return f"{path_of(target).split('?')[0]} does not exist in this checkout yet"
    where = response.header("location") or ""
    return f"{target} answered {response.status}{' to ' + where if where else ''}"


def _days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


# The console's searches, as the operator (support and operators share them): the service-wide
# audit log by each filter, and the centre and people searches. Each is probed once before
# timing; one that is not there yet (another part of the console) is skipped, with the reason.
CONSOLE_PAGES: dict[str, Callable[[Site], str]] = {
    "operator clients": lambda s: "/operator/clients",
    "operator client": lambda s: f"/operator/clients/{s.rp.client_id}",
    "console audit page 1": lambda s: "/console/audit",
    "console audit one person": (
        lambda s: f"/console/audit?person={quote(s.population.member_emails[0])}"
    ),
    "console audit one centre": lambda s: f"/console/audit?centre={s.population.large_centre}",
    "console audit sign-ins only": lambda s: "/console/audit?action=sign_in.",
    "console audit done by an officer": (
        lambda s: f"/console/audit?actor={quote(s.population.officer_email)}"
    ),
    "console audit last 30 days": (
        lambda s: f"/console/audit?from={_days_ago(30)}&to={_days_ago(0)}"
    ),
    "console centres search": lambda s: f"/console/centres?q={s.population.large_centre[:3]}",
    "console people search": (
        lambda s: f"/console/people?email={quote(s.population.member_emails[0])}"
    ),
}
