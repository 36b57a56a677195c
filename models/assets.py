"""The approved content a program may send: assets with their MLR metadata, and which one
comes first."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AssetStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Asset(BaseModel):
    """An approved piece of content with its MLR metadata."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    version: str
    approval_id: str
    approval_date: date
    expires_on: date
    status: AssetStatus
    countries: list[str] = Field(min_length=1)
    audience: list[str] = Field(min_length=1)
    channel: str = "email"
    product: str
    indication: str
    language: str = "en"
    funnel_stage: str
    topics: list[str] = Field(default_factory=list)
    promotional: bool = True
    subject: str
    body: str
    isi: str | None = Field(default=None, description="fair-balance / important safety information")

    @model_validator(mode="after")
    def _promotional_needs_isi(self) -> Asset:
        if self.promotional and not (self.isi and self.isi.strip()):
            raise ValueError(f"asset {self.id}: promotional content needs its isi block")
        return self

    def sendable_on(self, day: date) -> str | None:
        """Why this asset may not be sent on `day`, or None when it may."""
        if self.status is not AssetStatus.APPROVED:
            return f"asset status is {self.status.value}"
        if day > self.expires_on:
            return f"asset expired on {self.expires_on.isoformat()}"
        return None


class ContentMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_touch: str = Field(description="asset id sent first when no track rule names one")
