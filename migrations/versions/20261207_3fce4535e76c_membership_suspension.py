"""a membership can be suspended: the person holds no roles at that centre, their account and
other centres untouched

Revision ID: 3fce4535e76c
Revises: 94d8b3403efb
Create Date: 2026-12-07 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3fce4535e76c"
down_revision = "94d8b3403efb"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("suspended_at")
