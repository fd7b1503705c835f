"""clients may register an initiate_login_uri (third-party initiated login)

Revision ID: 4c1e9a7b2d30
Revises: cd81fbe558f8
Create Date: 2026-12-07 17:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4c1e9a7b2d30"
down_revision = "cd81fbe558f8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("initiate_login_uri", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("initiate_login_uri")
