"""a change of main email address waits for the link sent to the new address

Revision ID: 94d8b3403efb
Revises: d7400bfab0ca
Create Date: 2026-12-07 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "94d8b3403efb"
down_revision = "d7400bfab0ca"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "address_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_address_changes_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_address_changes_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_address_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_changes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_address_changes_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_address_changes_user_id")),
    )
    with op.batch_alter_table("address_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_changes_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_address_changes_requested_by_id"), ["requested_by_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("address_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_changes_requested_by_id"))
        batch_op.drop_index(batch_op.f("ix_address_changes_organisation_id"))
    op.drop_table("address_changes")
