"""indexes for a person's events on the console: by them, and about them

Revision ID: 3b7c9d2e5f14
Revises: c3e71a5b9f42
Create Date: 2026-12-08 03:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "3b7c9d2e5f14"
down_revision = "c3e71a5b9f42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_actor_at", ["actor_user_id", "at", "id"])
        batch_op.create_index("ix_audit_events_target_at", ["target_id", "at", "id"])


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target_at")
        batch_op.drop_index("ix_audit_events_actor_at")
