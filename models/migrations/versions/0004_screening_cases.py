"""Screening cases: safety and medical-information records with their original text.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening_case",
        sa.Column("case_ref", sa.String(40), primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("matched_terms", sa.Text, nullable=False),
        sa.Column("minimum_elements", sa.Text, nullable=False),
        sa.Column("texts", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("awareness_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forward_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_screening_case_event_id"),
    )
    op.create_index("ix_screening_case_lead_id", "screening_case", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_screening_case_lead_id", table_name="screening_case")
    op.drop_table("screening_case")
