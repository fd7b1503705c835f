"""the organisation chooser step of an authorization request

Revision ID: b67ecfa01c6a
Revises: 3fce4535e76c
Create Date: 2026-12-07 14:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b67ecfa01c6a"
down_revision = "3fce4535e76c"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("organisation_chosen_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_column("organisation_chosen_at")
