"""A program's scoring: fit weights, engagement points, disqualifiers and the MQL thresholds."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from models.events import EventType


class PointsFor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[str]
    points: int


class Territory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    countries: list[str]
    points: int


class FitWeights(BaseModel):
    """Fit: who the lead is. Values are points per matching fact."""

    model_config = ConfigDict(extra="forbid")

    role: dict[str, int] = Field(default_factory=dict)
    specialty: dict[str, int] = Field(default_factory=dict)
    org_type: dict[str, int] = Field(default_factory=dict)
    therapy_area_interest: PointsFor | None = None
    territory: Territory | None = None


class Disqualifiers(BaseModel):
    """Facts that block MQL whatever the scores (consumers, students, competitors, territory)."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(default_factory=list)
    org_types: list[str] = Field(default_factory=list)
    out_of_territory: bool = True


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit: int
    engagement: int


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit: FitWeights
    engagement: dict[EventType, int] = Field(description="event type -> points")
    topic_bonus: dict[str, int] = Field(default_factory=dict, description="topic -> extra points")
    half_life: timedelta
    thresholds: Thresholds
    disqualifiers: Disqualifiers = Field(default_factory=Disqualifiers)
