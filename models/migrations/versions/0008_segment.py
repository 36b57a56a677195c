"""Segment intake: user ids linked to leads (hashed), and unmapped event names kept for review.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segment_user",
        sa.Column("source_id_hash", sa.String(64), primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_segment_user_lead_id", "segment_user", ["lead_id"])
    op.create_table(
        "segment_unmapped_event",
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("event_name", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_segment_unmapped_event_event_name", "segment_unmapped_event", ["event_name"]
    )


def downgrade() -> None:
    op.drop_index("ix_segment_unmapped_event_event_name", table_name="segment_unmapped_event")
    op.drop_table("segment_unmapped_event")
    op.drop_index("ix_segment_user_lead_id", table_name="segment_user")
    op.drop_table("segment_user")
