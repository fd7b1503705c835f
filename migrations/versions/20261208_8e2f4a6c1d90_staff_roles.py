"""the exam board's own staff: a support or operator role instead of the operator flag

Revision ID: 8e2f4a6c1d90
Revises: 5a3c9e1f7b20
Create Date: 2026-12-08 03:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8e2f4a6c1d90"
down_revision = "5a3c9e1f7b20"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_role", sa.String(length=16), nullable=True))
    # Every operator so far stays one: the operator role holds what the flag gave, and more.
    op.execute("UPDATE users SET staff_role = 'operator' WHERE is_operator")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("is_operator")
    # The staff are a handful among millions of accounts: found by this index.
    op.create_index("ix_users_staff_role", "users", ["staff_role"])


def downgrade():
    op.drop_index("ix_users_staff_role", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE users SET is_operator = true WHERE staff_role = 'operator'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("staff_role")
