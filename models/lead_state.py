"""Lead workflow inputs, state and decision log: the payloads in a lead's history."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from models.events import LeadEvent, LeadFacts
from models.routing import ActivityItem, OpenTask, RouteOrder
from models.stage import Score, ScoreItem, Stage

__all__ = ["Score", "ScoreItem", "Stage"]

RECENT_EVENT_IDS = 500


class Decision(BaseModel):
    """One entry of the decision log: what was decided, when, on what, and why."""

    seq: int = 0
    chain: str | None = Field(
        default=None, description="the workflow chain (first run id); set on archived entries"
    )
    at: datetime
    trigger: str = Field(description="event:<event_id>, timer:<name>, signal:<name> or update")
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
    track: str | None = None
    message_id: str | None = None


class Engagement(BaseModel):
    """A scored behaviour, kept so the engagement score can be recomputed and explained."""

    event_id: str
    type: str
    at: datetime
    points: int
    topics: list[str] = Field(default_factory=list)


class EngagementCarry(BaseModel):
    """Older engagement folded into one decayed value (exact: decay is multiplicative)."""

    points: float = 0.0
    as_of: datetime | None = None
    events: int = 0


class Pause(BaseModel):
    by: str
    reason: str
    since: datetime
    until: datetime | None = None


class StopRecord(BaseModel):
    """An active reason not to send promotional email."""

    rule_id: str
    reason: str
    since: datetime
    trigger: str


class Review(BaseModel):
    """An open compliance review holding the lead."""

    review_id: str
    reason: str
    trigger: str
    opened_at: datetime
    due_at: datetime
    stage_before: Stage
    recorded: bool = Field(default=False, description="review item written for reviewers")
    escalated: bool = False


class LeadState(BaseModel):
    """Everything a lead's workflow carries, including across continue-as-new."""

    lead_id: str
    stage: Stage = Stage.NEW
    facts: LeadFacts = Field(default_factory=LeadFacts)
    program_version: str | None = None
    program_fingerprint: str | None = None
    track: str | None = None
    next_asset: str | None = Field(default=None, description="set by a track rule")
    planned_touch_at: datetime | None = Field(
        default=None, description="when the cadence wants the next touch, before caps/windows"
    )
    first_touch_pending: bool = False
    next_touch_at: datetime | None = Field(
        default=None, description="when the next touch will be attempted (timer)"
    )
    touches: list[TouchRecord] = Field(default_factory=list)
    touches_total: int = 0
    engagements: list[Engagement] = Field(default_factory=list)
    engagement_carry: EngagementCarry = Field(default_factory=EngagementCarry)
    topics_seen: list[str] = Field(default_factory=list)
    consumed_assets: list[str] = Field(
        default_factory=list, description="catalog assets the lead downloaded themselves"
    )
    rule_hits: dict[str, int] = Field(default_factory=dict)
    sends_since_engagement: int = 0
    last_click_at: datetime | None = None
    rest_until: datetime | None = None
    stops: dict[str, StopRecord] = Field(default_factory=dict)
    stage_before_opt_out: Stage | None = None
    pause: Pause | None = None
    review: Review | None = None
    consent_seen: bool = Field(default=False, description="a consent grant has been received")
    reviews_total: int = 0
    marketing_objection: bool = Field(
        default=False, description="after an objection to marketing, engagement no longer scores"
    )
    owner_queue: str | None = None
    tasks: list[OpenTask] = Field(default_factory=list, description="open CRM tasks")
    tasks_total: int = 0
    route_orders: list[RouteOrder] = Field(
        default_factory=list, description="routing decisions waiting for their CRM task"
    )
    routes_total: int = Field(default=0, description="ownership changes so far (loop guard)")
    rules_used: list[str] = Field(default_factory=list, description="`once` routing rules used")
    recent_activity: list[ActivityItem] = Field(default_factory=list)
    case_refs: list[str] = Field(default_factory=list, description="screening case references")
    reject_counts: dict[str, int] = Field(default_factory=dict)
    recycled_at: datetime | None = Field(
        default=None, description="re-qualifying after a recycle needs behaviour after this"
    )
    held_request: str | None = Field(
        default=None, description="a request blocked by a compliance hold, routed on release"
    )
    sample_status: str | None = Field(
        default=None, description="verification_pending | verified | not_verified"
    )
    score: Score = Field(default_factory=Score)
    events_total: int = 0
    runs: int = 1
    recent_event_ids: list[str] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    decision_seq: int = 0
    chain: str | None = Field(
        default=None, description="first run id of this workflow chain: seq restarts per chain"
    )

    _recent: set[str] | None = PrivateAttr(default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open_handoff(self) -> bool:
        """A task that holds promotional nurture back is open (derived from `tasks`)."""
        return any(t.stops_nurture for t in self.tasks)

    def remember_event(self, event_id: str, window: int = RECENT_EVENT_IDS) -> bool:
        """Record an event id; False when it was already seen (a duplicate delivery)."""
        if self._recent is None:
            self._recent = set(self.recent_event_ids)
        if event_id in self._recent:
            return False
        self.recent_event_ids.append(event_id)
        self._recent.add(event_id)
        if len(self.recent_event_ids) > window:
            for dropped in self.recent_event_ids[:-window]:
                self._recent.discard(dropped)
            del self.recent_event_ids[:-window]
        return True


class EventOutcome(BaseModel):
    """What one event did: the answer to the `submit_event` update."""

    event_id: str
    status: str = Field(description="accepted | duplicate | rejected")
    reason: str | None = None
    stage_before: Stage
    stage_after: Stage
    fit_before: int = 0
    fit_after: int = 0
    engagement_before: float = 0.0
    engagement_after: float = 0.0
    track: str | None = None
    next_touch_at: datetime | None = None
    actions: list[str] = Field(default_factory=list)


class PauseRequest(BaseModel):
    """Sales or ops pause a lead's nurture; `until` resumes it by itself."""

    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=1000)
    until: datetime | None = None


class ResumeRequest(BaseModel):
    by: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)


class LeadWorkflowInput(BaseModel):
    lead_id: str
    state: LeadState | None = Field(default=None, description="carried over by continue-as-new")
    pending: list[LeadEvent] = Field(
        default_factory=list, description="events received but not yet applied, carried over"
    )


class LeadWorkflowResult(BaseModel):
    lead_id: str
    stage: Stage


class DecisionLog(BaseModel):
    lead_id: str
    decisions: list[Decision]
    chain: str | None = None


class LoadProgramInput(BaseModel):
    """Ask for the program in force (the activity reads the configured file).

    With the fingerprint of the program the workflow already has, an unchanged program is not
    sent back, which keeps a long-lived lead's history small.
    """

    have_fingerprint: str | None = None


class ArchiveDecisionsInput(BaseModel):
    lead_id: str
    chain: str | None = None
    decisions: list[Decision]


class ArchiveDecisionsResult(BaseModel):
    archived: int


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


# The lead workflow's event signal by name: signal-with-start (`start_signal=`) takes a name.
RECORD_EVENT = "record_event"


class SafetyCaseInput(BaseModel):
    """A screened report to get to drug safety before its deadline (no text: a reference)."""

    case_ref: str
    forward_by: datetime


class CaseActionInput(BaseModel):
    case_ref: str


class CaseActionResult(BaseModel):
    case_ref: str
    status: str
    at: datetime


class ReviewDecision(BaseModel):
    """A compliance reviewer's decision on a held lead."""

    review_id: str
    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["release", "block"]
    note: str | None = Field(default=None, max_length=2000)
    actor: str | None = Field(default=None, description="the API key that delivered it")


class ReviewRecordInput(BaseModel):
    lead_id: str
    review_id: str
    reason: str
    trigger: str
    opened_at: datetime
    due_at: datetime
    status: str = "open"
    escalated: bool = False
    decision: ReviewDecision | None = None


class ReviewRecordResult(BaseModel):
    review_id: str
    status: str


LEAD_WORKFLOW_PREFIX = "lead-"


def lead_workflow_id(lead_id: str) -> str:
    """The lead's workflow id: `lead-` and the opaque lead id, never a name, email or NPI."""
    return LEAD_WORKFLOW_PREFIX + lead_id
