"""A copy of what the service holds about a person, for them to download (a subject access
request they can make themselves).

Everything about them, nothing that would let anyone in (no password hash, authenticator
secret, code or token) and nothing about anyone else: what an officer did to them shows as
done by "someone else", without the officer's address or IP; what they did to other people
(as an officer) shows as the action and its time only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from idp import clock
from idp.catalogue import Catalogue
from idp.domain import connected as connected_accounts
from idp.domain import consents, sessions, totp
from idp.extensions import db
from idp.models import AuditEvent, User

MAX_EVENTS = 1000


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export(user: User, catalogue: Catalogue) -> dict[str, Any]:
    role_names = {r.key: r.name for r in catalogue.roles}
    return {
        "exported_at": _when(clock.now()),
        "account": {
            "sub": user.sub,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "locale": user.locale,
            "status": user.status,
            "created_at": _when(user.created_at),
            "updated_at": _when(user.updated_at),
            "password_changed_at": _when(user.password_changed_at),
            "last_sign_in_at": _when(user.last_sign_in_at),
            "authenticator_app_since": _when(user.totp_enabled_at),
            "recovery_codes_left": totp.remaining_recovery_codes(user) if user.has_totp else 0,
        },
        "email_addresses": [
            {"address": e.address, "main": e.is_primary, "verified_at": _when(e.verified_at)}
            for e in user.emails
        ],
        "organisations": [
            {
                "code": m.organisation.code,
                "name": m.organisation.name,
                "roles": [
                    {"key": key, "name": role_names.get(key, key)} for key in sorted(m.role_keys)
                ],
            }
            for m in sorted(user.memberships, key=lambda m: m.organisation.code)
        ],
        "signed_in_sessions": [
            {
                "signed_in_at": _when(s.auth_time),
                "last_seen_at": _when(s.last_seen_at),
                "expires_at": _when(s.expires_at),
                "ip": s.ip,
                "browser": s.user_agent,
            }
            for s in sessions.live_for(user)
        ],
        "apps_with_access": [
            {
                "app": client.name,
                "scopes": consent.scope.split(),
                "since": _when(consent.granted_at),
            }
            for consent, client in consents.for_user(user)
        ],
        "connected_accounts": [
            {
                "provider": c.upstream,
                "email": c.email,
                "name": c.display_name,
                "connected_at": _when(c.created_at),
                "last_used_at": _when(c.last_used_at),
            }
            for c in connected_accounts.connections(user).values()
        ],
        "activity": _activity(user),
    }


def _activity(user: User) -> list[dict[str, Any]]:
    """The newest ``MAX_EVENTS`` events by or about the person."""
    table = AuditEvent.__table__
    about = and_(table.c.target_type == "user", table.c.target_id == user.sub)
    rows = db.session.execute(
        select(table)
        .where(or_(table.c.actor_user_id == user.id, about))
        .order_by(table.c.at.desc(), table.c.id.desc())
        .limit(MAX_EVENTS)
    ).all()
    events = []
    for row in rows:
        by_them = row.actor_user_id == user.id
        to_another = row.target_type == "user" and row.target_id != user.sub
        event: dict[str, Any] = {
            "at": _when(row.at),
            "action": row.action,
            "by": "you" if by_them else ("system" if row.actor == "system" else "someone else"),
        }
        if by_them:
            event["ip"] = row.ip
        if not to_another:
            event["details"] = row.details or {}
        events.append(event)
    return events
