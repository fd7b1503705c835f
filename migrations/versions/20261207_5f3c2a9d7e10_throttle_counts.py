"""the throttles' counts in the database, shared by every worker and instance

Revision ID: 5f3c2a9d7e10
Revises: 0ed73f89d182
Create Date: 2026-12-07 08:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5f3c2a9d7e10"
down_revision = "0ed73f89d182"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "throttle_counts",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counts")),
    )
    with op.batch_alter_table("throttle_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_throttle_counts_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("throttle_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttle_counts_expires_at"))
    op.drop_table("throttle_counts")
