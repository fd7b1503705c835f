"""membership periods: when each person was a member of each organisation

A centre's audit log shows a person's own events (sign-ins) only for the time they were a
member there. Every existing membership gets one open period from the membership's creation.

Revision ID: d7400bfab0ca
Revises: 55d72d818ae1
Create Date: 2026-12-07 14:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d7400bfab0ca"
down_revision = "55d72d818ae1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "membership_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_membership_periods_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_membership_periods_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_periods")),
    )
    with op.batch_alter_table("membership_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_membership_periods_organisation_user", ["organisation_id", "user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_membership_periods_user_id"), ["user_id"], unique=False
        )
    op.execute(
        "INSERT INTO membership_periods (user_id, organisation_id, started_at)"
        " SELECT user_id, organisation_id, created_at FROM memberships"
    )


def downgrade():
    with op.batch_alter_table("membership_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_periods_user_id"))
        batch_op.drop_index("ix_membership_periods_organisation_user")
    op.drop_table("membership_periods")
