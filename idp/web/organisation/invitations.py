"""An invitation's page on the officer's side, reached from the users list like an invited
member's page, at the same kind of address: it looks the same for an invitation to join
(``domain.joining``) and for a member who never activated, so that nothing tells the officer
which of the two an address had. The person's side (Accept / Decline) is
``idp.web.join_invitations``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template

from idp import clock
from idp.domain import management
from idp.models import JoinInvitation, Membership, Organisation, User
from idp.web.organisation.common import app_catalogue, role_groups


@dataclass(frozen=True)
class Invited:
    """What the officer's invitation pages show, the same for an invitation to join and for a
    member who never activated: what the officer typed, the roles, the invitation's expiry."""

    public_id: str
    name: str
    email: str
    role_keys: set[str]
    expires_at: datetime

    @classmethod
    def of_member(cls, user: User, membership: Membership) -> Invited:
        return cls(
            user.sub,
            user.name,
            user.email or "",
            membership.role_keys,
            user.temp_password_expires_at or clock.now(),
        )

    @classmethod
    def of_invitation(cls, invitation: JoinInvitation) -> Invited:
        return cls(
            invitation.public_id,
            invitation.name,
            invitation.email,
            invitation.role_keys,
            invitation.expires_at,
        )


def page(org: Organisation, invited: Invited) -> Any:
    """The officer's page for an invitation: only what the officer typed, and its state."""
    catalogue = app_catalogue()
    return render_template(
        "organisation/invitation.html",
        org=org,
        invitation=invited,
        role_groups=role_groups(org),
        roles=management.grantable_roles(org, catalogue),
        role_names={r.key: r.name for r in catalogue.roles},
        waiting=invited.expires_at > clock.now(),
    )
