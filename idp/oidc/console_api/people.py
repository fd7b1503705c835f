"""``/api/console/people``: a person found by address (exact), and their profile, as the
console shows them, for the exam board's own tools. Never a secret; unlike the console's page,
not the sign-in sessions' IP addresses either."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, request

from idp.domain import people
from idp.models import User
from idp.oidc.console_api.base import answer, bp, caller, invalid, not_found


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _person(user: User) -> dict[str, Any]:
    """The short answer: who the address belongs to."""
    return {
        "sub": user.sub,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "status": str(user.status),
    }


def _profile(user: User) -> dict[str, Any]:
    settings = current_app.extensions["idp.settings"]
    found = people.profile(user, settings.catalogue, idle_ttl=settings.auth.session_idle_ttl)
    return {
        **_person(user),
        "staff": bool(found.staff_role),
        "addresses": [
            {"address": a.address, "verified": a.verified, "primary": a.primary}
            for a in found.addresses
        ],
        "organisations": [
            {
                "code": p.code,
                "name": p.name,
                "roles": p.roles,
                "suspended": p.suspended,
                "exams_officer": p.exams_officer,
            }
            for p in found.places
        ],
        "factors": {
            "authenticator_app": found.authenticator_app,
            "recovery_codes_left": found.recovery_codes_left,
            "passkeys": [
                {
                    "name": k.name,
                    "synced": k.synced,
                    "created_at": _when(k.created_at),
                    "last_used_at": _when(k.last_used_at),
                }
                for k in found.passkeys
            ],
        },
        "sessions": [
            {
                "user_agent": s.user_agent or "",
                "signed_in_at": _when(s.auth_time),
                "last_seen_at": _when(s.last_seen_at or s.auth_time),
            }
            for s in found.sessions
        ],
        "connected_accounts": found.connected,
        "invitations": [
            {"code": w.code, "name": w.name, "expires_at": _when(w.expires_at)}
            for w in found.waiting
        ],
    }


@bp.get("/people")
def people_by_address() -> Response:
    """The person holding ``email`` (any of their addresses, exactly), in the shape of
    ``/people/<sub>``'s answer: 404 when nobody does."""
    caller()
    address = request.args.get("email", "").strip()
    if not address or len(address) > 320:
        return invalid("Give email, the address to look for.")
    user = people.find_by_address(address)
    if user is None:
        return not_found("No account has this address.")
    return answer(_profile(user))


@bp.get("/people/<sub>")
def person(sub: str) -> Response:
    """The person's profile, as the console's page shows it, without IP addresses."""
    caller()
    user = people.find_by_sub(sub[:64])
    if user is None:
        return not_found()
    return answer(_profile(user))
