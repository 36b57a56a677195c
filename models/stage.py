"""Lifecycle stages and scores: shared by the lead state and the routing models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Stage(StrEnum):
    """Lifecycle stages."""

    NEW = "new"
    ENGAGED = "engaged"
    NURTURING = "nurturing"
    MQL = "mql"
    HANDED_OFF = "handed_off"
    SALES_ACCEPTED = "sales_accepted"
    MEETING_SET = "meeting_set"
    CLOSED = "closed"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"
    OPTED_OUT = "opted_out"
    COMPLIANCE_HOLD = "compliance_hold"
    MEDICAL_INQUIRY = "medical_inquiry"


class ScoreItem(BaseModel):
    """One line of a score's breakdown: which fact or event added how much."""

    source: str
    points: float


class Score(BaseModel):
    """Fit and engagement, each explained; MQL needs both over threshold and no disqualifier."""

    fit: int = 0
    engagement: float = 0.0
    fit_breakdown: list[ScoreItem] = Field(default_factory=list)
    engagement_breakdown: list[ScoreItem] = Field(default_factory=list)
    disqualified_by: list[str] = Field(default_factory=list)
    mql: bool = False
    as_of: datetime | None = None
