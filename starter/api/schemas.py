"""Request and response bodies of the routes (the services' own models are used where they
fit as they are)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from models.routing import RejectReason


class LeadsFound(BaseModel):
    lead_ids: list[str]


class ManualAction(BaseModel):
    """A manual intervention, accepted for delivery to the lead (it shows in the decision log)."""

    lead_id: str
    action: str
    by: str


class PauseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    until: AwareDatetime | None = None


class ResumeBody(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


class ReviewBody(BaseModel):
    decision: Literal["release", "block"]
    reviewer: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class TaskNoteBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class RejectBody(BaseModel):
    reason: RejectReason = Field(description="not_ready | wrong_contact | no_fit | duplicate | ...")
    note: str | None = Field(default=None, max_length=2000)


class CloseBody(BaseModel):
    outcome: str = Field(min_length=1, max_length=200, description="e.g. won, lost, no_decision")
    note: str | None = Field(default=None, max_length=2000)


class CodecPayloads(BaseModel):
    """The codec-server protocol's body: payloads in protobuf JSON (`metadata` values and
    `data` base64)."""

    payloads: list[dict[str, Any]] = Field(max_length=10_000)
