"""Clean-up of what has expired: codes, tokens, sign-in sessions, parked authorization
requests, verification codes, changes of address never confirmed, used client assertions,
initial access tokens, the summaries of CSV imports a week after they last moved, invitations to
join a month after they were answered, and the throttles' expired counts.

Every statement is a plain ``DELETE ... WHERE <expired before a cutoff>``: running it from cron
on several instances at once is safe (the second run finds nothing), and nothing still able to
matter is touched — a rotated refresh token is kept until its grant's own expiry, so its replay
is still caught, and a used authorization code until every token issued from it has expired.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from idp import clock
from idp.config import Settings
from idp.extensions import db
from idp.models import (
    AddressChange,
    AuthorizationCode,
    AuthSession,
    ClientAssertion,
    ImportJob,
    Interaction,
    JoinInvitation,
    RegistrationToken,
    ThrottleCount,
    Token,
    VerificationCode,
)

GRACE = timedelta(days=1)
# An import's summary names the people it added; the audit log keeps the record after this.
KEEP_IMPORTS = timedelta(days=7)
# An invitation to join, once accepted, declined or withdrawn (its events carry its typed name).
# One never answered stays, shown as expired, as long as an invited member who never activated.
KEEP_ANSWERED_INVITATIONS = timedelta(days=30)


def purge(settings: Settings) -> dict[str, int]:
    """Delete what expired before ``now - GRACE`` (codes: before their tokens could have);
    returns how many rows of each kind went."""
    now = clock.now()
    cutoff = now - GRACE
    codes_cutoff = now - timedelta(seconds=settings.oidc.refresh_token_ttl) - GRACE
    statements = {
        "authorization_codes": delete(AuthorizationCode).where(
            AuthorizationCode.expires_at < codes_cutoff
        ),
        "tokens": delete(Token).where(
            Token.access_expires_at < cutoff,
            or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff),
        ),
        "sessions": delete(AuthSession).where(
            or_(AuthSession.expires_at < cutoff, AuthSession.ended_at < cutoff)
        ),
        "interactions": delete(Interaction).where(Interaction.expires_at < cutoff),
        "verification_codes": delete(VerificationCode).where(VerificationCode.expires_at < cutoff),
        "address_changes": delete(AddressChange).where(AddressChange.expires_at < cutoff),
        "client_assertions": delete(ClientAssertion).where(ClientAssertion.expires_at < cutoff),
        "import_jobs": delete(ImportJob).where(ImportJob.updated_at < now - KEEP_IMPORTS),
        "join_invitations": delete(JoinInvitation).where(
            JoinInvitation.answered_at < now - KEEP_ANSWERED_INVITATIONS
        ),
        "registration_tokens": delete(RegistrationToken).where(
            or_(RegistrationToken.expires_at < cutoff, RegistrationToken.uses_left <= 0)
        ),
        # The throttles' counts (rate_limits.storage_uri = "database://"), in epoch seconds.
        "throttle_counts": delete(ThrottleCount).where(
            ThrottleCount.expires_at < cutoff.timestamp()
        ),
    }
    counts = {}
    for name, statement in statements.items():
        result = db.session.execute(statement.execution_options(synchronize_session=False))
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return counts
