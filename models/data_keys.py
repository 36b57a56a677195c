"""The `lead_data_key` table: per-lead data keys for payload encryption, stored wrapped."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables import UtcDateTime


class LeadDataKey(SQLModel, table=True):
    """One data key, wrapped by the master key. `lead_id` None is the shared system key.

    Destroying a key empties `wrapped_key` as well as stamping `destroyed_at`: the row stays so
    a decode can say the key was destroyed rather than never known (crypto-shredding)."""

    __tablename__ = "lead_data_key"

    key_id: str = Field(primary_key=True, max_length=40)
    lead_id: str | None = Field(default=None, max_length=40, index=True)
    wrapped_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))
    destroyed_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UtcDateTime(), nullable=True)
    )
