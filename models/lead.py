"""Lead workflow inputs, state and decision log: the payloads in a lead's history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.events import LeadFacts

RECENT_EVENT_IDS = 500


class Stage(StrEnum):
    """Lifecycle stages (DESIGN §3)."""

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


class Decision(BaseModel):
    """One entry of the decision log: what was decided, when, on what, and why."""

    at: datetime
    trigger: str = Field(description="event:<event_id> or timer:<name>")
    rule_id: str
    program_version: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    outcome: str


class TouchRecord(BaseModel):
    """A touch the workflow asked the messaging activity to make."""

    touch_id: str
    asset_id: str
    asset_version: str | None = None
    status: str
    at: datetime
    message_id: str | None = None


class LeadState(BaseModel):
    """Everything a lead's workflow carries, including across continue-as-new."""

    lead_id: str
    stage: Stage = Stage.NEW
    facts: LeadFacts = Field(default_factory=LeadFacts)
    program_version: str | None = None
    next_touch_at: datetime | None = None
    touches: list[TouchRecord] = Field(default_factory=list)
    recent_event_ids: list[str] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)

    def remember_event(self, event_id: str) -> bool:
        """Record an event id; False when it was already seen (a duplicate delivery)."""
        if event_id in self.recent_event_ids:
            return False
        self.recent_event_ids.append(event_id)
        del self.recent_event_ids[:-RECENT_EVENT_IDS]
        return True


class LeadWorkflowInput(BaseModel):
    lead_id: str
    state: LeadState | None = Field(default=None, description="carried over by continue-as-new")


class LeadWorkflowResult(BaseModel):
    lead_id: str
    stage: Stage


class DecisionLog(BaseModel):
    lead_id: str
    decisions: list[Decision]


class LoadProgramInput(BaseModel):
    """Ask for the program in force (the activity reads the configured file)."""


class SendTouchInput(BaseModel):
    lead_id: str
    touch_id: str
    asset_id: str
    trigger: str
    program_version: str


class SendTouchResult(BaseModel):
    status: str = Field(description="sent | blocked")
    asset_id: str
    asset_version: str | None = None
    message_id: str | None = None
    reason: str | None = None


# Activity and signal names shared by the workflow and the worker, so workflow modules can
# call activities without importing the database or SMTP code that implements them.
LOAD_PROGRAM = "load_program"
SEND_TOUCH = "send_touch"
RECORD_EVENT = "record_event"
