"""Database tables (sqlmodel). Tables never travel in workflow payloads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import PlainSerializer, field_validator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored and read back as aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _timestamp(**kwargs: object) -> object:
    return Field(sa_column=sa.Column(UtcDateTime(), **kwargs))  # type: ignore[arg-type]


class LeadBase(SQLModel):
    """Who a lead is: the identifiers used for matching and personalisation."""

    email: str | None = Field(default=None, max_length=320, unique=True)
    npi: str | None = Field(default=None, max_length=10, unique=True)
    crm_id: str | None = Field(default=None, max_length=100, unique=True)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    organization: str | None = Field(default=None, max_length=300)


class Lead(LeadBase, table=True):
    __tablename__ = "lead"
    __table_args__ = (sa.Index("ix_lead_name_org_key", "name_key", "org_key"),)

    lead_id: str = Field(primary_key=True, max_length=40)
    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    # Normalised (case, accents, spacing) for the weak name + institution match (never
    # merged automatically).
    name_key: str | None = Field(default=None, max_length=201)
    org_key: str | None = Field(default=None, max_length=300)
    # Set when a data steward merged this lead into another: its identifiers resolve there.
    merged_into: str | None = Field(default=None, max_length=40, index=True)


class LeadPublic(LeadBase):
    lead_id: str
    created_at: datetime
    merged_into: str | None = None


class OutboxMessageBase(SQLModel):
    """One email Leadflow sends, recorded before it is sent: asset id and version,
    recipient, consent used, trigger and time."""

    lead_id: str = Field(index=True, max_length=40)
    touch_id: str = Field(max_length=100)
    asset_id: str = Field(max_length=100)
    asset_version: str = Field(max_length=40)
    program_version: str = Field(max_length=40)
    trigger: str = Field(max_length=250)
    message_id: str = Field(max_length=250)
    subject: str = Field(max_length=500)
    status: str = Field(max_length=20, description="sending | sent")
    consent_state: str | None = Field(default=None, max_length=200)


class OutboxMessage(OutboxMessageBase, table=True):
    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    recipient: str = Field(max_length=320)
    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    sent_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class OutboxMessagePublic(OutboxMessageBase):
    id: int
    created_at: datetime
    sent_at: datetime | None


class DecisionLogBase(SQLModel):
    """A decision archived from a finished workflow run (the live run is queried instead)."""

    lead_id: str = Field(index=True, max_length=40)
    chain: str = Field(default="", max_length=64, description="first run id of the chain")
    seq: int
    trigger: str = Field(max_length=250)
    rule_id: str = Field(max_length=100)
    program_version: str | None = Field(default=None, max_length=40)
    inputs: str = Field(default="{}", description="JSON object")
    outcome: str


class DecisionLogEntry(DecisionLogBase, table=True):
    __tablename__ = "decision_log"
    __table_args__ = (
        sa.UniqueConstraint("lead_id", "chain", "seq", name="uq_decision_log_lead_chain_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


class AssetRecordBase(SQLModel):
    """An asset of the approved content library, with its MLR metadata."""

    asset_id: str = Field(max_length=100, index=True)
    version: str = Field(max_length=40)
    title: str = Field(max_length=300)
    approval_id: str = Field(max_length=100)
    approval_date: date
    expires_on: date
    status: str = Field(max_length=20)
    countries: str = Field(description="JSON list of ISO country codes")
    audience: str = Field(description="JSON list: hcp, consumer, payer")
    channel: str = Field(max_length=20)
    product: str = Field(max_length=100)
    indication: str = Field(max_length=300)
    language: str = Field(max_length=10)
    funnel_stage: str = Field(max_length=40)
    topics: str = Field(description="JSON list of topic tags")
    promotional: bool
    subject: str
    body: str
    isi: str | None = None


class AssetRecord(AssetRecordBase, table=True):
    __tablename__ = "asset"
    __table_args__ = (sa.UniqueConstraint("asset_id", "version", name="uq_asset_id_version"),)

    id: int | None = Field(default=None, primary_key=True)
    imported_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


class ConsentRecordBase(SQLModel):
    """One append-only consent fact: person x channel x purpose."""

    lead_id: str = Field(index=True, max_length=40)
    channel: str = Field(max_length=20, description="email, phone, field_visit, all")
    purpose: str = Field(max_length=20, description="promotional, medical, events, all")
    status: str = Field(max_length=20, description="granted | confirmed | pending | withdrawn")
    source: str = Field(max_length=100, description="form, import, rep, unsubscribe_link, ...")
    method: str = Field(max_length=100, description="express, implied, double_opt_in, ...")
    wording_version: str | None = Field(default=None, max_length=100)
    evidence: str | None = Field(default=None, description="e.g. the double opt-in token")
    event_id: str | None = Field(default=None, max_length=200)


class ConsentRecord(ConsentRecordBase, table=True):
    __tablename__ = "consent_record"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "channel", "purpose", name="uq_consent_event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recorded_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    expires_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class Suppression(SQLModel, table=True):
    """An address never to email again, kept hashed (also after erasure)."""

    __tablename__ = "suppression"

    id: int | None = Field(default=None, primary_key=True)
    email_hash: str = Field(max_length=64, unique=True)
    reason: str = Field(max_length=100)
    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


class ScreeningCase(SQLModel, table=True):
    """A screened event routed to drug safety or medical information.

    The original text is kept here, in the safety record, and nowhere on the commercial side:
    the lead's workflow and everything reps see carry only `case_ref`.
    """

    __tablename__ = "screening_case"

    case_ref: str = Field(primary_key=True, max_length=40)
    lead_id: str = Field(index=True, max_length=40)
    event_id: str = Field(max_length=200, unique=True)
    event_type: str = Field(max_length=40)
    route: str = Field(max_length=40, description="drug_safety | medical_information")
    flags: str = Field(description="JSON list")
    matched_terms: str = Field(description="JSON list of {field, flag, term}")
    minimum_elements: str = Field(description="JSON object of the four elements")
    texts: str = Field(description="JSON object: field path -> original text")
    status: str = Field(max_length=20, description="open | forwarded | escalated")
    awareness_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    forward_by: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]
    forwarded_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]
    escalated_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class ComplianceReviewBase(SQLModel):
    """A compliance review's fields, as stored and as shown."""

    review_id: str = Field(primary_key=True, max_length=80)
    lead_id: str = Field(index=True, max_length=40)
    reason: str
    trigger: str = Field(max_length=250)
    status: str = Field(max_length=20, description="open | escalated | released | blocked")
    opened_at: datetime
    due_at: datetime
    reviewer: str | None = Field(default=None, max_length=200)
    actor: str | None = Field(default=None, max_length=200)
    note: str | None = None
    decided_at: datetime | None


class ComplianceReview(ComplianceReviewBase, table=True):
    """A review item for compliance: why a lead is held, and who decided what."""

    __tablename__ = "compliance_review"

    opened_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    due_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    decided_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class ComplianceReviewPublic(ComplianceReviewBase):
    """A review item for compliance: why a lead is held, and who decided what."""


class ApiKeyRecord(SQLModel, table=True):
    """An API key made with `leadflow key create`, kept only as a hash."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(description="JSON list of scopes")
    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    revoked_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class ReceivedEvent(SQLModel, table=True):
    """An event id already delivered to its lead: a redelivery is answered `duplicate`."""

    __tablename__ = "received_event"

    event_id: str = Field(primary_key=True, max_length=200)
    lead_id: str = Field(max_length=40)
    received_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


# Task times have always been shown as Python writes them (`+00:00`, not `Z`): webhook receivers
# and scripts compare them as text.
IsoDatetime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


class CrmTaskBase(SQLModel):
    """A task in the embedded CRM: a lead handed to a queue, with the context the team needs."""

    task_id: str = Field(primary_key=True, max_length=80)
    lead_id: str = Field(index=True, max_length=40)
    queue: str = Field(index=True, max_length=80)
    kind: str = Field(max_length=40)
    status: str = Field(
        index=True, max_length=20, description="open | accepted | rejected | closed | escalated"
    )
    rule_id: str = Field(max_length=80)
    rank: int = 0
    reason: str = Field(max_length=500)
    request: str | None = Field(default=None, max_length=40)
    program_version: str = Field(max_length=40)


class CrmTask(CrmTaskBase, table=True):
    """Created once per task id (a retried handoff finds the row it made); status changes are
    written as the lead's workflow applies them, with the acting key's name."""

    __tablename__ = "crm_task"

    context: str = Field(description="JSON: identifiers, why, scores, activity, consent, ...")
    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    due_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]
    updated_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]
    actor: str | None = Field(default=None, max_length=200)
    resolution: str | None = Field(default=None, max_length=200, description="reason or outcome")
    note: str | None = None
    escalated_from: str | None = Field(default=None, max_length=80)
    webhook_delivered_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class CrmTaskPublic(CrmTaskBase):
    """A task as the API, the CLI and the CRM webhook show it: its context as JSON."""

    created_at: IsoDatetime
    due_at: IsoDatetime | None = None
    updated_at: IsoDatetime | None = None
    actor: str | None = None
    resolution: str | None = None
    note: str | None = None
    escalated_from: str | None = None
    context: dict[str, Any]

    @field_validator("context", mode="before")
    @classmethod
    def _parse_context(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class SegmentUser(SQLModel, table=True):
    """A Segment `userId` or `anonymousId` seen with a lead's identifiers, kept hashed: later
    calls that carry only the id reach the same lead, as Segment clients expect."""

    __tablename__ = "segment_user"

    source_id_hash: str = Field(primary_key=True, max_length=64)
    lead_id: str = Field(index=True, max_length=40)
    linked_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


class SegmentUnmappedEvent(SQLModel, table=True):
    """A Segment `track` event whose name the program does not map (`unmapped: record`):
    the name only, for ops to review; nothing is delivered to a lead."""

    __tablename__ = "segment_unmapped_event"

    message_id: str = Field(primary_key=True, max_length=200)
    event_name: str = Field(index=True, max_length=200)
    received_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]


class IdentityReviewBase(SQLModel):
    """An identity review's fields, as stored and as shown."""

    review_id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20, description="weak_match | conflict")
    lead_id: str = Field(index=True, max_length=40)
    candidate_lead_id: str = Field(index=True, max_length=40)
    pair_key: str = Field(max_length=120, unique=True, description="one review per pair and kind")
    reason: str = Field(max_length=500)
    status: str = Field(index=True, max_length=20, description="open | merged | distinct")
    created_at: datetime
    decided_by: str | None = Field(default=None, max_length=200, description="the steward")
    actor: str | None = Field(default=None, max_length=200, description="the acting API key")
    decided_at: datetime | None
    note: str | None = None


class IdentityReview(IdentityReviewBase, table=True):
    """Two leads that may be one person, for a data steward to merge or keep distinct (never
    merged automatically): a weak match (name + institution) or identifiers that conflict."""

    __tablename__ = "identity_review"

    created_at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    decided_at: datetime | None = _timestamp(nullable=True)  # type: ignore[assignment]


class IdentityReviewPublic(IdentityReviewBase):
    """Two leads that may be one person, for a data steward to merge or keep distinct (never
    merged automatically): a weak match (name + institution) or identifiers that conflict."""


class LeadMerge(SQLModel, table=True):
    """An append-only record of one merge: who, what moved, when and why."""

    __tablename__ = "lead_merge"

    merge_id: str = Field(primary_key=True, max_length=40)
    survivor_lead_id: str = Field(index=True, max_length=40)
    merged_lead_id: str = Field(index=True, max_length=40)
    review_id: str = Field(max_length=40)
    steward: str = Field(max_length=200)
    actor: str = Field(max_length=200)
    at: datetime = _timestamp(nullable=False)  # type: ignore[assignment]
    moved: str = Field(
        description="JSON: identifiers and profile fields moved (names only), "
        "consent records appended"
    )
    note: str | None = None
