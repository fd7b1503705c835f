"""narrow stored claims requests of third-party clients

Until this release the ``claims`` request parameter could name claims beyond the scopes a
third-party client was granted, and the request was stored as asked with its code and tokens,
which release claims from it for as long as they live (a refresh token, 30 days). The
authorization endpoint now narrows it before storing it; this narrows what earlier requests
stored in the same way, so tokens issued before the upgrade stop releasing those claims too.

The scope-to-claims table is copied here as it stands at this revision (``idp.oidc.claims``),
so later changes to it do not change what this migration does.

Revision ID: c430688c151a
Revises: a414016fa11f
Create Date: 2026-11-30 18:15:29.704096

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c430688c151a"
down_revision = "a414016fa11f"
branch_labels = None
depends_on = None

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "updated_at"),
    "email": ("email", "email_verified"),
    "roles": ("org", "roles"),
    "organisations": ("organisations",),
}
SCOPED = {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
PROTOCOL = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}

clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("first_party", sa.Boolean))


def _narrowed(claims_request, scope):
    covered = {c for s in (scope or "").split() for c in SCOPE_CLAIMS.get(s, ())}
    return {
        target: {
            name: spec
            for name, spec in members.items()
            if name in PROTOCOL or (name in SCOPED and name in covered)
        }
        for target, members in claims_request.items()
        if isinstance(members, dict)
    }


def upgrade():
    bind = op.get_bind()
    for name in ("authorization_codes", "tokens"):
        table = sa.table(
            name,
            sa.column("id", sa.Integer),
            sa.column("client_id", sa.String),
            sa.column("scope", sa.Text),
            sa.column("claims_request", sa.JSON),
        )
        rows = bind.execute(
            sa.select(table.c.id, table.c.scope, table.c.claims_request)
            .join(clients, clients.c.client_id == table.c.client_id)
            .where(clients.c.first_party.is_(False), table.c.claims_request.is_not(None))
        ).all()
        for row in rows:
            if not isinstance(row.claims_request, dict):
                continue
            narrowed = _narrowed(row.claims_request, row.scope)
            if narrowed != row.claims_request:
                bind.execute(
                    table.update().where(table.c.id == row.id).values(claims_request=narrowed)
                )


def downgrade():
    # What was taken out is not kept: a downgrade leaves the narrowed requests as they are.
    pass
