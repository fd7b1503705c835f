"""Sign-in sessions: started by a successful sign-in, ended by sign-out or suspension."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from idp import clock
from idp.domain import tokens
from idp.extensions import db
from idp.models import AuthorizationCode, AuthSession, User, UserStatus
from idp.security import random_token

_sessions_t = AuthSession.__table__
_users_t = User.__table__
_codes_t = AuthorizationCode.__table__
_SIGNED_IN_AT = (
    update(_users_t)
    .where(_users_t.c.id == bindparam("user_id"))
    .values(last_sign_in_at=bindparam("now"))
)

ONE_FACTOR = "1"
TWO_FACTORS = "2"


def start(
    user: User,
    amr: list[str],
    ttl_seconds: int,
    organisation_id: int | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> AuthSession:
    """Open a session for a user who has just authenticated with the methods in ``amr``.

    Written with plain statements (this runs on every sign-in); the returned object is not
    tracked by the ORM session."""
    now = clock.now()
    values = {
        "sid": random_token(24),
        "user_id": user.id,
        "organisation_id": organisation_id,
        "auth_time": now,
        "amr": amr,
        "acr": acr_for(amr),
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
        "last_seen_at": now,
        "ip": ip,
        "user_agent": (user_agent or "")[:300] or None,
    }
    db.session.execute(insert(_sessions_t), values)
    db.session.execute(_SIGNED_IN_AT, {"user_id": user.id, "now": now})
    set_committed_value(user, "last_sign_in_at", now)
    auth_session = AuthSession(**values)
    set_committed_value(auth_session, "user", user)
    return auth_session


def reauthenticate(auth_session: AuthSession, amr: list[str], ttl_seconds: int) -> None:
    """The same user signed in again (prompt=login, max_age): refresh the session's facts but
    keep its id, so relying parties holding that ``sid`` keep their sessions."""
    now = clock.now()
    auth_session.auth_time = now
    auth_session.amr = amr
    auth_session.acr = acr_for(amr)
    auth_session.expires_at = now + timedelta(seconds=ttl_seconds)
    auth_session.last_seen_at = now
    auth_session.user.last_sign_in_at = now


def step_up(auth_session: AuthSession, amr: list[str]) -> None:
    """The person proved themselves again, more strongly, in the same session (a passkey for
    the console): the session keeps its id and lifetime, and now stands for both proofs."""
    combined = list(dict.fromkeys([*auth_session.amr, *amr]))
    auth_session.amr = combined
    auth_session.acr = acr_for(combined)
    auth_session.auth_time = clock.now()
    auth_session.last_seen_at = auth_session.auth_time


# A passkey with user verification: the key held (hardware or synced) and the PIN or
# biometric that unlocked it (``idp.domain.passkeys.amr_for``).
PASSKEY_AMR = {"hwk", "swk"}


def acr_for(amr: list[str]) -> str:
    """``"2"`` when a password was backed by another factor, or for a passkey (two factors
    on its own), else ``"1"``."""
    if "pwd" in amr and set(amr) - {"pwd"}:
        return TWO_FACTORS
    return TWO_FACTORS if "mfa" in amr and PASSKEY_AMR & set(amr) else ONE_FACTOR


TOUCH_EVERY = timedelta(seconds=60)


def load(sid: str, idle_ttl: int | None = None) -> AuthSession | None:
    """The live session with this id, with its user, or None if ended, expired (absolute
    lifetime, or ``idle_ttl`` seconds without a request) or its user suspended."""
    auth_session = db.session.scalar(
        select(AuthSession).where(AuthSession.sid == sid).options(joinedload(AuthSession.user))
    )
    if (
        auth_session is None
        or auth_session.ended_at is not None
        or auth_session.expires_at <= clock.now()
        or auth_session.user.status == UserStatus.SUSPENDED
    ):
        return None
    last_seen = auth_session.last_seen_at or auth_session.auth_time
    if idle_ttl is not None and last_seen + timedelta(seconds=idle_ttl) <= clock.now():
        return None
    return auth_session


def touch(auth_session: AuthSession) -> None:
    """Note activity (at most once a minute), in a transaction of its own: the request's own
    work may still be rolled back, the activity stands."""
    now = clock.now()
    last_seen = auth_session.last_seen_at or auth_session.auth_time
    if now - last_seen < TOUCH_EVERY:
        return
    table = AuthSession.__table__
    with db.engine.begin() as connection:
        connection.execute(
            update(table).where(table.c.sid == auth_session.sid).values(last_seen_at=now)
        )
    set_committed_value(auth_session, "last_seen_at", now)


ENDED = "idp.ended_sessions"


def _ended(sids: list[str]) -> None:
    """Note sessions ended in this transaction: once it commits, the relying parties they were
    used with are told (OpenID Connect Back-Channel Logout, ``idp.oidc.backchannel``)."""
    db.session.info.setdefault(ENDED, []).extend(sids)


def _retire_codes(sids: list[str]) -> None:
    """Mark the sessions' unredeemed authorization codes used, so none is redeemed after the
    sign-out (whose token revocation and back-channel logout it would escape).

    Run before the tokens are revoked: a redemption racing with it either retired its code
    first (this statement then waits for it to commit, and the revocation that follows sees
    its tokens) or finds the code retired. Only live codes are looked at (``expires_at`` is
    indexed)."""
    if not sids:
        return
    now = clock.now()
    db.session.execute(
        update(_codes_t)
        .where(
            _codes_t.c.sid.in_(sids),
            _codes_t.c.used_at.is_(None),
            _codes_t.c.expires_at > now,
        )
        .values(used_at=now)
    )


def end(auth_session: AuthSession) -> None:
    """End a session, retire its unredeemed codes and revoke the tokens issued under it
    (offline grants survive)."""
    now = clock.now()
    db.session.execute(
        update(AuthSession.__table__)
        .where(AuthSession.__table__.c.sid == auth_session.sid)
        .values(ended_at=now)
    )
    set_committed_value(auth_session, "ended_at", now)
    _ended([auth_session.sid])
    _retire_codes([auth_session.sid])
    tokens.revoke_for_session(auth_session.sid)


def end_all(user: User, *, keep_sid: str | None = None) -> int:
    """End every live session of a user (but ``keep_sid``) and retire their unredeemed codes;
    returns how many ended. The caller revokes the tokens."""
    now = clock.now()
    table = AuthSession.__table__
    conditions = [table.c.user_id == user.id, table.c.ended_at.is_(None)]
    if keep_sid is not None:
        conditions.append(table.c.sid != keep_sid)
    sids = list(db.session.scalars(select(table.c.sid).where(*conditions)))
    db.session.execute(update(table).where(table.c.sid.in_(sids)).values(ended_at=now))
    _ended(sids)
    _retire_codes(sids)
    return len(sids)


def live_for(user: User, idle_ttl: int | None = None) -> list[AuthSession]:
    """The user's sessions that have not ended or expired, newest first; with ``idle_ttl``,
    not those idle that long either (``load`` would refuse them: they are signed out)."""
    now = clock.now()
    query = select(AuthSession).where(
        AuthSession.user_id == user.id,
        AuthSession.ended_at.is_(None),
        AuthSession.expires_at > now,
    )
    if idle_ttl is not None:
        query = query.where(
            func.coalesce(AuthSession.last_seen_at, AuthSession.auth_time)
            > now - timedelta(seconds=idle_ttl)
        )
    return list(db.session.scalars(query.order_by(AuthSession.auth_time.desc())))


def set_organisation(auth_session: AuthSession, organisation_id: int) -> None:
    """The organisation the user acts for in this session (sent to services as ``org``)."""
    db.session.execute(
        update(AuthSession.__table__)
        .where(AuthSession.__table__.c.sid == auth_session.sid)
        .values(organisation_id=organisation_id)
    )
    set_committed_value(auth_session, "organisation_id", organisation_id)
