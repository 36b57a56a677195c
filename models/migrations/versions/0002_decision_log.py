"""Decision log archive: decisions of finished workflow runs, per lead and sequence number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(250), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("program_version", sa.String(40), nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.UniqueConstraint("lead_id", "chain", "seq", name="uq_decision_log_lead_chain_seq"),
    )
    op.create_index("ix_decision_log_lead_id", "decision_log", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_decision_log_lead_id", table_name="decision_log")
    op.drop_table("decision_log")
