"""a centre's audit log is read newest first by position: (organisation_id, at, id)

Revision ID: 76b4763e87ad
Revises: 4c1e9a7b2d30
Create Date: 2026-12-07 21:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "76b4763e87ad"
down_revision = "4c1e9a7b2d30"
branch_labels = None
depends_on = None


def upgrade():
    # The centre's events in the log's order: a page is one range of this index, and its count
    # an index-only range. It replaces the index on organisation_id alone, its prefix.
    op.create_index(
        "ix_audit_events_organisation_at", "audit_events", ["organisation_id", "at", "id"]
    )
    op.drop_index("ix_audit_events_organisation_id", table_name="audit_events")


def downgrade():
    op.create_index("ix_audit_events_organisation_id", "audit_events", ["organisation_id"])
    op.drop_index("ix_audit_events_organisation_at", table_name="audit_events")
