"""Identity stewardship: organization and match keys on leads, steward reviews, merge log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as lead:
        lead.add_column(sa.Column("organization", sa.String(300), nullable=True))
        lead.add_column(sa.Column("name_key", sa.String(201), nullable=True))
        lead.add_column(sa.Column("org_key", sa.String(300), nullable=True))
        lead.add_column(sa.Column("merged_into", sa.String(40), nullable=True))
    op.create_index("ix_lead_name_org_key", "lead", ["name_key", "org_key"])
    op.create_index("ix_lead_merged_into", "lead", ["merged_into"])
    op.create_table(
        "identity_review",
        sa.Column("review_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("lead_id", sa.String(40), nullable=False, index=True),
        sa.Column("candidate_lead_id", sa.String(40), nullable=False, index=True),
        sa.Column("pair_key", sa.String(120), nullable=False, unique=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_table(
        "lead_merge",
        sa.Column("merge_id", sa.String(40), primary_key=True),
        sa.Column("survivor_lead_id", sa.String(40), nullable=False, index=True),
        sa.Column("merged_lead_id", sa.String(40), nullable=False, index=True),
        sa.Column("review_id", sa.String(40), nullable=False),
        sa.Column("steward", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("lead_merge")
    op.drop_table("identity_review")
    op.drop_index("ix_lead_merged_into", table_name="lead")
    op.drop_index("ix_lead_name_org_key", table_name="lead")
    with op.batch_alter_table("lead") as lead:
        for column in ("merged_into", "org_key", "name_key", "organization"):
            lead.drop_column(column)
