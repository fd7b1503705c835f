"""the console's centre search: name trigrams, a brand index, officer nominations

Revision ID: c3e71a5b9f42
Revises: 8e2f4a6c1d90
Create Date: 2026-12-08 03:20:00.000000

"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c3e71a5b9f42"
down_revision = "8e2f4a6c1d90"
branch_labels = None
depends_on = None

WORD = re.compile(r"\w+")


def _trigrams(name):
    # As idp.models.centre_names.trigrams, frozen here: a migration keeps its own copy.
    pieces = set()
    for word in WORD.findall((name or "").lower()):
        padded = "  " + word + " "
        pieces.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return pieces


def upgrade():
    table = op.create_table(
        "centre_name_trigrams",
        sa.Column("trigram", sa.String(length=12), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trigram", "organisation_id"),
    )
    op.create_index(
        "ix_centre_name_trigrams_organisation_id", "centre_name_trigrams", ["organisation_id"]
    )
    op.create_index("ix_organisations_brand_code", "organisations", ["brand", "code"])
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("officer_nomination", sa.String(length=8), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name FROM organisations")).all()
    batch = []
    for organisation_id, name in rows:
        batch.extend({"trigram": t, "organisation_id": organisation_id} for t in _trigrams(name))
        if len(batch) >= 5000:
            op.bulk_insert(table, batch)
            batch = []
    if batch:
        op.bulk_insert(table, batch)


def downgrade():
    with op.batch_alter_table("join_invitations", schema=None) as batch_op:
        batch_op.drop_column("officer_nomination")
    op.drop_index("ix_organisations_brand_code", table_name="organisations")
    op.drop_index("ix_centre_name_trigrams_organisation_id", table_name="centre_name_trigrams")
    op.drop_table("centre_name_trigrams")
