"""an index for purging answered invitations to join

Revision ID: cd81fbe558f8
Revises: b67ecfa01c6a
Create Date: 2026-12-07 16:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "cd81fbe558f8"
down_revision = "b67ecfa01c6a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_join_invitations_answered_at"), ["answered_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_join_invitations_answered_at"))
