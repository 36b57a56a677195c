"""Approved content library, consent ledger, suppression list; lead country, consent used.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("asset_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("approval_id", sa.String(100), nullable=False),
        sa.Column("approval_date", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("countries", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("indication", sa.String(300), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("funnel_stage", sa.String(40), nullable=False),
        sa.Column("topics", sa.Text, nullable=False),
        sa.Column("promotional", sa.Boolean, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("isi", sa.Text, nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("asset_id", "version", name="uq_asset_id_version"),
    )
    op.create_index("ix_asset_asset_id", "asset", ["asset_id"])
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("method", sa.String(100), nullable=False),
        sa.Column("wording_version", sa.String(100), nullable=True),
        sa.Column("evidence", sa.Text, nullable=True),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", "channel", "purpose", name="uq_consent_event"),
    )
    op.create_index("ix_consent_record_lead_id", "consent_record", ["lead_id"])
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("email_hash", name="uq_suppression_email_hash"),
    )
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("country", sa.String(2), nullable=True))
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("consent_state", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("consent_state")
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("country")
    op.drop_table("suppression")
    op.drop_index("ix_consent_record_lead_id", table_name="consent_record")
    op.drop_table("consent_record")
    op.drop_index("ix_asset_asset_id", table_name="asset")
    op.drop_table("asset")
