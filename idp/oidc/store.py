"""The protocol's reads and writes, as Core statements built once, at import.

The six that the token and userinfo endpoints run on every request are ``Prepared``
(``idp/statements.py``): compiled once per dialect and run on the session's own database
connection without SQLAlchemy's per-statement work, each taking 1.6-8.6 % off such a request
(``bench/statements.py`` measures every one; the rest, run once in a person's sign-in, save
0.1-0.4 % of it and go through the session like any other statement). This is the only module
that uses ``Prepared`` (tests/test_layering.py). Rows come back read by attribute either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update

from idp import clock
from idp.domain.clients import api_scopes_of
from idp.extensions import db
from idp.models import (
    AuthorizationCode,
    AuthSession,
    Client,
    Consent,
    EmailAddress,
    Membership,
    Organisation,
    Token,
    User,
    UserStatus,
    membership_roles,
)
from idp.security import constant_time_equals, token_hash
from idp.statements import Prepared

RowLike = Any  # rows of many shapes, read by attribute
clients_t = Client.__table__
codes_t = AuthorizationCode.__table__
tokens_t = Token.__table__
users_t = User.__table__
emails_t = EmailAddress.__table__
memberships_t = Membership.__table__
orgs_t = Organisation.__table__
consents_t = Consent.__table__
sessions_t = AuthSession.__table__


# -- clients --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientInfo:
    """A registered client as the protocol sees it: read-only, implementing Authlib's
    ``ClientMixin`` protocol. Registration itself works on the ``Client`` model."""

    client_id: str
    name: str
    client_secret_hash: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    token_endpoint_auth_method: str
    scope: str
    service_keys: frozenset[str]
    first_party: bool
    can_introspect: bool
    extra_metadata: dict[str, Any]

    @classmethod
    def from_row(cls, row: RowLike) -> ClientInfo:
        return cls(
            client_id=row.client_id,
            name=row.name,
            client_secret_hash=row.client_secret_hash,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            grant_types=tuple(row.grant_types),
            response_types=tuple(row.response_types),
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            scope=row.scope,
            service_keys=frozenset(row.service_keys),
            first_party=row.first_party,
            can_introspect=row.can_introspect,
            extra_metadata=dict(row.extra_metadata or {}),
        )

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def api_scopes(self) -> frozenset[str]:
        """The API scopes an operator granted, for client_credentials tokens."""
        return frozenset(api_scopes_of(self.scope))

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {
            **self.extra_metadata,
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
        }

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OpenID Connect requires redirect_uri on every request: no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(dict.fromkeys(s for s in scope.split() if s in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash:
            return False
        return constant_time_equals(token_hash(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token" or self.is_public or method == "private_key_jwt":
            return method == self.token_endpoint_auth_method
        # Revocation and introspection accept either secret method from a confidential client.
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


_CLIENT = Prepared(
    select(clients_t).where(
        clients_t.c.client_id == bindparam("client_id"), clients_t.c.disabled_at.is_(None)
    )
)


def client(client_id: str) -> ClientInfo | None:
    """The enabled client with this id."""
    row = _CLIENT.first(client_id=client_id)
    return ClientInfo.from_row(row) if row is not None else None


# -- subjects -------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectView:
    """The claim-bearing columns of a user and their primary address."""

    id: int
    sub: str
    given_name: str
    family_name: str
    updated_at: datetime
    email: str | None
    email_verified: bool
    locale: str | None


# The user with their primary address (an outer join: every account has one, but a missing
# address must not hide the account).
_USER_COLUMNS = (
    users_t.c.status.label("user_status"),
    users_t.c.sub.label("user_sub"),
    users_t.c.given_name.label("user_given_name"),
    users_t.c.family_name.label("user_family_name"),
    users_t.c.updated_at.label("user_updated_at"),
    users_t.c.locale.label("user_locale"),
    emails_t.c.address.label("user_email"),
    emails_t.c.verified_at.label("user_email_verified_at"),
)
_PRIMARY = (emails_t.c.user_id == users_t.c.id) & emails_t.c.is_primary.is_(True)

_SUBJECT = (
    select(users_t.c.id.label("user_id"), *_USER_COLUMNS)
    .select_from(users_t)
    .outerjoin(emails_t, _PRIMARY)
    .where(users_t.c.id == bindparam("user_id"))
)


def subject_of(row: RowLike) -> SubjectView:
    """The subject from a row carrying the ``user_*`` columns."""
    return SubjectView(
        row.user_id,
        row.user_sub,
        row.user_given_name,
        row.user_family_name,
        row.user_updated_at,
        row.user_email,
        row.user_email_verified_at is not None,
        row.user_locale,
    )


def active_subject(user_id: int) -> SubjectView | None:
    """The user, or None unless the account is active."""
    row = db.session.execute(_SUBJECT, {"user_id": user_id}).first()
    if row is None or row.user_status != UserStatus.ACTIVE:
        return None
    return subject_of(row)


# -- memberships ----------------------------------------------------------------------

_MEMBERSHIP_ROLES = (
    select(orgs_t.c.id, orgs_t.c.code, orgs_t.c.name, orgs_t.c.brand, membership_roles.c.role_key)
    .select_from(memberships_t)
    .join(orgs_t, orgs_t.c.id == memberships_t.c.organisation_id)
    # A membership suspended at its organisation holds no roles there.
    .outerjoin(
        membership_roles,
        (membership_roles.c.membership_id == memberships_t.c.id)
        & memberships_t.c.suspended_at.is_(None),
    )
    .where(memberships_t.c.user_id == bindparam("user_id"))
)
_ONE_MEMBERSHIP_ROLES = Prepared(
    _MEMBERSHIP_ROLES.where(orgs_t.c.id == bindparam("organisation_id"))
)


@dataclass(frozen=True)
class MembershipView:
    organisation_id: int
    code: str
    name: str
    brand: str
    role_keys: frozenset[str]


def _group(rows: list[RowLike]) -> list[MembershipView]:
    found: dict[int, tuple[RowLike, set[str]]] = {}
    for row in rows:
        _, keys = found.setdefault(row.id, (row, set()))
        if row.role_key is not None:
            keys.add(row.role_key)
    return sorted(
        (MembershipView(r.id, r.code, r.name, r.brand, frozenset(k)) for r, k in found.values()),
        key=lambda m: m.code,
    )


def memberships(user_id: int) -> list[MembershipView]:
    """Every organisation of the user with the roles held there, by centre number."""
    return _group(list(db.session.execute(_MEMBERSHIP_ROLES, {"user_id": user_id}).all()))


def membership(user_id: int, organisation_id: int) -> MembershipView | None:
    grouped = _group(_ONE_MEMBERSHIP_ROLES.all(user_id=user_id, organisation_id=organisation_id))
    return grouped[0] if grouped else None


_parent = orgs_t.alias("parent_org")
_MANAGED_ASSOCIATE = (
    select(orgs_t.c.id, orgs_t.c.code, orgs_t.c.name, orgs_t.c.brand)
    .select_from(orgs_t)
    .join(_parent, _parent.c.id == orgs_t.c.parent_id)
    .join(memberships_t, memberships_t.c.organisation_id == _parent.c.id)
    .join(membership_roles, membership_roles.c.membership_id == memberships_t.c.id)
    .where(
        memberships_t.c.user_id == bindparam("user_id"),
        memberships_t.c.suspended_at.is_(None),
        membership_roles.c.role_key.in_(bindparam("management_roles", expanding=True)),
    )
)


def managed_associate(
    user_id: int, organisation_id: int, management_roles: list[str]
) -> MembershipView | None:
    """An associate centre the user acts for without belonging to it: allowed while they hold
    User Management at its Cambridge Associate. They hold no roles there."""
    row = db.session.execute(
        _MANAGED_ASSOCIATE.where(orgs_t.c.id == bindparam("organisation_id")).limit(1),
        {
            "organisation_id": organisation_id,
            "user_id": user_id,
            "management_roles": management_roles,
        },
    ).first()
    if row is None:
        return None
    return MembershipView(row.id, row.code, row.name, row.brand, frozenset())


_ORGANISATION_ID = select(orgs_t.c.id).where(orgs_t.c.code == bindparam("code"))


def organisation_id(code: str) -> int | None:
    """The id of the organisation with this centre number."""
    row = db.session.execute(_ORGANISATION_ID, {"code": code}).first()
    return row.id if row is not None else None


def managed_associate_ids(user_id: int, management_roles: list[str]) -> set[int]:
    """The associate centres the user acts for without belonging to them (see above)."""
    rows = db.session.execute(
        _MANAGED_ASSOCIATE, {"user_id": user_id, "management_roles": management_roles}
    )
    return {row.id for row in rows}


# -- consents -------------------------------------------------------------------------

_CONSENT = select(consents_t.c.scope).where(
    consents_t.c.user_id == bindparam("user_id"),
    consents_t.c.client_id == bindparam("client_id"),
)


def consented_scopes(user_id: int, client_id: str) -> set[str]:
    row = db.session.execute(_CONSENT, {"user_id": user_id, "client_id": client_id}).first()
    return set(row.scope.split()) if row is not None and row.scope else set()


# -- authorization codes --------------------------------------------------------------


class IssuedCode:
    """A claimed authorization code row, with Authlib's ``AuthorizationCodeMixin`` getters."""

    def __init__(self, row: RowLike):
        self.row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    def get_redirect_uri(self) -> str:
        return str(self.row.redirect_uri)

    def get_scope(self) -> str:
        return str(self.row.scope)


_CODE = select(codes_t).where(codes_t.c.code_hash == bindparam("digest"))
# Claimed only while its sign-in session has not ended. Ending a session also retires its
# unredeemed codes (``sessions.end``), so of a sign-out and a redemption racing, either the
# sign-out retires the code first or it waits on this row's lock and then revokes the new
# tokens; this condition (one unique-key probe) covers a code issued while the session ended.
_MARK_CODE_USED = (
    update(codes_t)
    .where(
        codes_t.c.id == bindparam("code_id"),
        codes_t.c.used_at.is_(None),
        ~exists().where(sessions_t.c.sid == codes_t.c.sid, sessions_t.c.ended_at.is_not(None)),
    )
    .values(used_at=bindparam("now"))
)
CODE_COLUMNS = [c.key for c in codes_t.c if c.key not in ("id", "used_at")]


def find_code(code: str) -> IssuedCode | None:
    row = db.session.execute(_CODE, {"digest": token_hash(code)}).first()
    return IssuedCode(row) if row is not None else None


def mark_code_used(code_id: int) -> bool:
    """Retire a code, atomically; False if another request (or the end of its sign-in
    session) retired it first, or its session has ended."""
    return _changed(_MARK_CODE_USED, {"code_id": code_id, "now": clock.now()}) == 1


def insert_code(values: dict[str, Any]) -> None:
    """Save a code: ``values`` names every column in ``CODE_COLUMNS``."""
    db.session.execute(insert(codes_t), values)


# -- tokens ---------------------------------------------------------------------------

# A token with what checking and describing it needs: its user (none for a client_credentials
# token) and its client's services.
_TOKEN = (
    select(
        *tokens_t.c,
        *_USER_COLUMNS,
        clients_t.c.service_keys.label("client_service_keys"),
        clients_t.c.disabled_at.label("client_disabled_at"),
    )
    .outerjoin(users_t, users_t.c.id == tokens_t.c.user_id)
    .outerjoin(emails_t, _PRIMARY)
    .join(clients_t, clients_t.c.client_id == tokens_t.c.client_id)
)
_BY_ACCESS = Prepared(_TOKEN.where(tokens_t.c.access_token_hash == bindparam("digest")))
_BY_REFRESH = Prepared(_TOKEN.where(tokens_t.c.refresh_token_hash == bindparam("digest")))
TOKEN_COLUMNS = [
    c.key for c in tokens_t.c if c.key not in ("id", "access_revoked_at", "refresh_revoked_at")
]
_INSERT_TOKEN = Prepared(insert(tokens_t), TOKEN_COLUMNS)


def token_by_access(value: str) -> RowLike | None:
    return _BY_ACCESS.first(digest=token_hash(value))


def token_by_refresh(value: str) -> RowLike | None:
    return _BY_REFRESH.first(digest=token_hash(value))


def insert_token(values: dict[str, Any]) -> None:
    """Save a token: ``values`` names every column in ``TOKEN_COLUMNS``."""
    _INSERT_TOKEN.execute(**values)


_ROTATE = Prepared(
    update(tokens_t)
    .where(tokens_t.c.id == bindparam("token_id"), tokens_t.c.refresh_revoked_at.is_(None))
    .values(refresh_revoked_at=bindparam("now"))
)
_REVOKE_ACCESS = (
    update(tokens_t)
    .where(tokens_t.c.id == bindparam("token_id"), tokens_t.c.access_revoked_at.is_(None))
    .values(access_revoked_at=bindparam("now"))
)


def rotate_refresh(token_id: int) -> bool:
    """Retire a refresh token, atomically; False if another request retired it first."""
    return _ROTATE.execute(token_id=token_id, now=clock.now()) == 1


def revoke_access(token_id: int) -> None:
    db.session.execute(_REVOKE_ACCESS, {"token_id": token_id, "now": clock.now()})


def _changed(statement: Any, params: dict[str, Any]) -> int:
    """Run an UPDATE through the session; how many rows it changed."""
    return int(db.session.execute(statement, params).rowcount)  # type: ignore[attr-defined]


def timestamp(value: datetime | None) -> int:
    return int(value.timestamp()) if value is not None else 0
