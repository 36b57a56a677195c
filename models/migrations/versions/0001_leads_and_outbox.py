"""Leads (identity) and the email outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead",
        sa.Column("lead_id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("npi", sa.String(10), nullable=True),
        sa.Column("crm_id", sa.String(100), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("email", name="uq_lead_email"),
        sa.UniqueConstraint("npi", name="uq_lead_npi"),
        sa.UniqueConstraint("crm_id", name="uq_lead_crm_id"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("touch_id", sa.String(100), nullable=False),
        sa.Column("asset_id", sa.String(100), nullable=False),
        sa.Column("asset_version", sa.String(40), nullable=False),
        sa.Column("program_version", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(250), nullable=False),
        sa.Column("message_id", sa.String(250), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_message_idempotency_key"),
    )
    op.create_index("ix_outbox_message_lead_id", "outbox_message", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_lead_id", table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("lead")
