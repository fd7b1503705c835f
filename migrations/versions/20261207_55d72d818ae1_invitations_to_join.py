"""invitations to join an organisation, for people who already have an account

Revision ID: 55d72d818ae1
Revises: 5f3c2a9d7e10
Create Date: 2026-12-07 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "55d72d818ae1"
down_revision = "5f3c2a9d7e10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "join_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_join_invitations_invited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_join_invitations_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_join_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_invitations")),
        sa.UniqueConstraint("public_id", name=op.f("uq_join_invitations_public_id")),
    )
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_join_invitations_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            "ix_join_invitations_user_open", ["user_id", "outcome"], unique=False
        )
        batch_op.create_index(
            "uq_join_invitations_open",
            ["organisation_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("outcome IS NULL"),
            postgresql_where=sa.text("outcome IS NULL"),
        )
    op.create_table(
        "join_invitation_roles",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("role_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["join_invitations.id"],
            name=op.f("fk_join_invitation_roles_invitation_id_join_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_key"], ["roles.key"], name=op.f("fk_join_invitation_roles_role_key_roles")
        ),
        sa.PrimaryKeyConstraint(
            "invitation_id", "role_key", name=op.f("pk_join_invitation_roles")
        ),
    )
    # Existing accounts are no longer added at once, so no import counts them apart.
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("linked")


def downgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("linked", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_table("join_invitation_roles")
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_join_invitations_open",
            sqlite_where=sa.text("outcome IS NULL"),
            postgresql_where=sa.text("outcome IS NULL"),
        )
        batch_op.drop_index("ix_join_invitations_user_open")
        batch_op.drop_index(batch_op.f("ix_join_invitations_organisation_id"))
    op.drop_table("join_invitations")
