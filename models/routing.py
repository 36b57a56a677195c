"""Routing and handoff: the program's queues and ordered rules, and the payloads of CRM tasks.

Leads go to queues, never to people. Rules are ranked; the first that matches wins
and is named in the decision log. Precedence: drug safety > medical information >
privacy request > sample verification > commercial > nurture — the sample program ranks its
rules in that order. No heavy imports here: program models load inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from models.events import EventType
from models.stage import Score, Stage


class QueueKind(StrEnum):
    """What a queue's team does; it decides what accepting or rejecting a task means."""

    SALES = "sales"  # territory sales / account team: a handoff
    SDR = "sdr"  # qualification of an MQL: a handoff
    ACCOUNT_REVIEW = "account_review"  # early look at a high-value account, before MQL
    MEDICAL_INFORMATION = "medical_information"
    DRUG_SAFETY = "drug_safety"
    TRIAL_INTAKE = "trial_intake"
    LICENCE_VERIFICATION = "licence_verification"
    SAMPLE_OPERATIONS = "sample_operations"
    DATA_STEWARD = "data_steward"
    OPS_REVIEW = "ops_review"


# Queues whose task is commercial: never for consumers, opted-out or held leads.
COMMERCIAL_KINDS = frozenset(
    {QueueKind.SALES, QueueKind.SDR, QueueKind.ACCOUNT_REVIEW, QueueKind.SAMPLE_OPERATIONS}
)
# Tasks whose acceptance moves the lead along the sales stages.
HANDOFF_KINDS = frozenset({QueueKind.SALES, QueueKind.SDR})


class RejectReason(StrEnum):
    """Why sales sent a lead back (a rejection needs one of these reason codes)."""

    NOT_READY = "not_ready"
    WRONG_CONTACT = "wrong_contact"
    NO_FIT = "no_fit"
    DUPLICATE = "duplicate"
    COMPETITOR = "competitor"
    NO_CONSENT = "no_consent"


class BusinessHours(BaseModel):
    """A queue's working hours, in the lead's time zone; weekends and the country's public
    holidays (the `holidays` package) are never working time."""

    start: time = time(9)
    end: time = time(17)
    days: list[int] = Field(default=[0, 1, 2, 3, 4], description="Monday = 0")

    @model_validator(mode="after")
    def _sane(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if not self.days or any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days must be weekday numbers 0 (Monday) to 6")
        return self


class Queue(BaseModel):
    id: str = Field(min_length=1, max_length=80)
    kind: QueueKind
    description: str = ""
    sla: timedelta | None = Field(
        default=None, description="response time in business hours (None: no SLA)"
    )
    hours: BusinessHours = Field(default_factory=BusinessHours)
    escalation_queue: str | None = Field(
        default=None, description="where a breached task goes first; ops review after that"
    )
    manager_email: str | None = Field(default=None, description="told of every breach")
    stops_nurture: bool = Field(
        default=False, description="promotional nurture stops while a task here is open"
    )


class RouteWhen(BaseModel):
    """Conditions over standard fields; all given must hold (an empty list means any)."""

    events: list[EventType] = Field(default_factory=list, description="the request reason")
    screening_routes: list[Literal["drug_safety", "medical_information"]] = Field(
        default_factory=list
    )
    mql: bool | None = Field(default=None, description="the lead is a marketing-qualified lead")
    stages: list[Stage] = Field(default_factory=list)
    therapy_areas: list[str] = Field(default_factory=list, description="event property")
    products: list[str] = Field(default_factory=list, description="event property")
    territories: list[str] = Field(default_factory=list)
    customer_types: list[str] = Field(default_factory=list, description="role or org type")
    min_fit: int | None = None
    min_engagement: float | None = None
    high_value_account: bool | None = None
    sample_eligible: bool | None = Field(
        default=None,
        description="valid NPI and a signed written request: only then may a sample go on",
    )
    fit_ok: bool | None = Field(default=None, description="no disqualifier (no consumers)")


class RouteRule(BaseModel):
    id: str = Field(min_length=1, max_length=80)
    rank: int = Field(ge=1)
    when: RouteWhen
    queue: str = Field(description="a queue id; `{territory}` is the lead's territory")
    next_action: list[str] = Field(
        default_factory=list, description="the recommended next-action checklist on the task"
    )
    once: bool = Field(default=False, description="at most one task from this rule per lead")


class Routing(BaseModel):
    """The program's `routing:` section."""

    queues: list[Queue] = Field(min_length=1)
    rules: list[RouteRule] = Field(min_length=1)
    high_value_accounts: list[str] = Field(
        default_factory=list, description="organisations the account team reviews before MQL"
    )
    max_reroutes: int = Field(default=3, ge=1, description="more than this -> ops review")
    data_steward_queue: str
    ops_review_queue: str
    recycle_tracks: dict[RejectReason, str | None] = Field(
        default_factory=dict,
        description="reason -> the nurture track a rejected lead resumes on (None: no nurture)",
    )
    recycle_clears: list[str] = Field(
        default_factory=list, description="stop rules a recycle lifts (e.g. request open)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Routing:
        ids = [q.id for q in self.queues]
        if len(set(ids)) != len(ids):
            raise ValueError("queue ids must be unique")
        rule_ids = [r.id for r in self.rules]
        if len(set(rule_ids)) != len(rule_ids):
            raise ValueError("rule ids must be unique")
        ranks = [r.rank for r in self.rules]
        if len(set(ranks)) != len(ranks):
            raise ValueError("rule ranks must be unique")
        self.rules.sort(key=lambda r: r.rank)
        known = set(ids)
        for name in (self.data_steward_queue, self.ops_review_queue):
            if name not in known:
                raise ValueError(f"unknown queue {name}")
        for queue in self.queues:
            if queue.escalation_queue and queue.escalation_queue not in known:
                raise ValueError(
                    f"queues.{queue.id}.escalation_queue names unknown queue "
                    f"{queue.escalation_queue}"
                )
        for rule in self.rules:
            if "{territory}" not in rule.queue and rule.queue not in known:
                raise ValueError(f"rules.{rule.id}.queue names unknown queue {rule.queue}")
        return self

    def queue(self, queue_id: str) -> Queue | None:
        return next((q for q in self.queues if q.id == queue_id), None)

    def check_territories(self, territories: list[str]) -> list[str]:
        """Problems: templated rules whose queue is missing for some territory."""
        problems = []
        for rule in self.rules:
            if "{territory}" in rule.queue:
                for territory in territories:
                    name = queue_name(rule.queue, territory)
                    if self.queue(name) is None:
                        problems.append(f"rules.{rule.id}.queue: no queue {name} for {territory}")
        return problems


def queue_name(template: str, territory: str | None) -> str:
    return template.replace("{territory}", (territory or "").lower())


# -- workflow <-> activity payloads -----------------------------------------------------------


class ActivityItem(BaseModel):
    """Recent behaviour a task shows sales: never free text, only structured properties."""

    type: str
    at: datetime
    asset_id: str | None = None
    title: str | None = None
    url: str | None = None
    event_name: str | None = None


class OpenTask(BaseModel):
    """A CRM task the lead's workflow is waiting on."""

    task_id: str
    queue: str
    kind: QueueKind
    rule_id: str
    opened_at: datetime
    due_at: datetime | None = None
    escalations: int = 0
    stops_nurture: bool = False
    request: str | None = Field(default=None, description="the event type that asked for it")
    accepted: bool = False
    handoff: bool = Field(default=False, description="a sales handoff, escalated or not")


class RouteOrder(BaseModel):
    """A routing decision waiting for its CRM task (kept in state across continue-as-new)."""

    rule_id: str
    rank: int
    queue: str
    kind: QueueKind
    reason: str
    trigger: str
    request: str | None = None
    next_action: list[str] = Field(default_factory=list)
    needs_enrichment: bool = False
    handoff: bool = False


class CrmTaskInput(BaseModel):
    """Everything the create-task activity needs; identifiers are looked up by lead id."""

    task_id: str
    lead_id: str
    queue: str
    kind: QueueKind
    rule_id: str
    rank: int
    reason: str
    request: str | None = None
    program_version: str
    opened_at: datetime = Field(description="workflow time; the SLA counts from here")
    stage: Stage
    score: Score
    territory: str | None = None
    country: str | None = None
    time_zone: str | None = None
    recent_activity: list[ActivityItem] = Field(default_factory=list)
    case_refs: list[str] = Field(default_factory=list)
    sample: dict[str, str] = Field(default_factory=dict)
    next_action: list[str] = Field(default_factory=list)
    escalated_from: str | None = None
    escalation_reason: str | None = None
    sla: timedelta | None = Field(default=None, description="the queue's, from this version")
    hours: BusinessHours | None = None
    escalation_manager: str | None = Field(
        default=None, description="told when the task this one escalates was breached"
    )


class CrmTaskResult(BaseModel):
    task_id: str
    queue: str
    due_at: datetime | None = None
    created: bool = Field(description="False when the task already existed (a retry)")
    webhook: bool = Field(default=False, description="a CRM webhook is configured")


class TaskUpdateInput(BaseModel):
    task_id: str
    status: str
    actor: str | None = None
    reason: str | None = None
    note: str | None = None


class TaskAction(BaseModel):
    """Sales (or the owning team) act on a task: the `act_on_task` update."""

    task_id: str
    action: Literal["accept", "reject", "close"]
    reason: RejectReason | None = Field(default=None, description="required to reject")
    outcome: str | None = Field(default=None, max_length=200, description="when closing")
    note: str | None = Field(default=None, max_length=2000)
    actor: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _reason_for_reject(self) -> TaskAction:
        if self.action == "reject" and self.reason is None:
            raise ValueError("reason: a rejection needs a reason code")
        return self


class TaskActionResult(BaseModel):
    task_id: str
    status: str
    stage: Stage
    track: str | None = None


class EnrichFactsInput(BaseModel):
    """Run enrichment again on what the workflow knows (no identifiers)."""

    lead_id: str
    country: str | None = None
    postal_code: str | None = None
    role: str | None = None
    specialty: str | None = None
    org_type: str | None = None


class EnrichFactsResult(BaseModel):
    territory: str | None = None
    missing_routing_fields: list[str] = Field(default_factory=list)


class WebhookInput(BaseModel):
    task_id: str
    event: str = "task.created"
