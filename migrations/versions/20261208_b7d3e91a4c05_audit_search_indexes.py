"""the console's service-wide audit log: an index range in the log's order for each filter

Revision ID: b7d3e91a4c05
Revises: 3b7c9d2e5f14
Create Date: 2026-12-08 03:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b7d3e91a4c05"
down_revision = "3b7c9d2e5f14"
branch_labels = None
depends_on = None


def upgrade():
    # Events of one kind, and all of them: each read newest first by (at, id), one range of
    # its index (by and about a person: 3b7c9d2e5f14). (at, id) takes the place of (at).
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at", "id"])
    op.create_index("ix_audit_events_at_id", "audit_events", ["at", "id"])
    op.drop_index("ix_audit_events_at", table_name="audit_events")


def downgrade():
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.drop_index("ix_audit_events_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
