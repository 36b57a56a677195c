"""The event envelope (public contract of `POST /v1/events`): what services send about a lead."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


class EventType(StrEnum):
    """Every event type Leadflow accepts (part of the public contract: add, never rename)."""

    IDENTIFY = "identify"
    PAGE_VIEWED = "page_viewed"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    EMAIL_BOUNCED = "email_bounced"
    SPAM_COMPLAINT = "spam_complaint"
    CONTENT_DOWNLOADED = "content_downloaded"
    FORM_SUBMITTED = "form_submitted"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    EVENT_ATTENDED = "event_attended"
    INFO_REQUESTED = "info_requested"
    MEETING_REQUESTED = "meeting_requested"
    DEMO_REQUESTED = "demo_requested"
    SAMPLE_REQUESTED = "sample_requested"
    PRICING_REQUESTED = "pricing_requested"
    MEDICAL_QUESTION = "medical_question"
    TRIAL_QUESTION = "trial_question"
    UNSUBSCRIBED = "unsubscribed"
    CONSENT_GRANTED = "consent_granted"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    SALES_CONTACTED = "sales_contacted"
    MEETING_BOOKED = "meeting_booked"
    DISQUALIFIED = "disqualified"


class ProfileFacts(BaseModel):
    """What a service may tell about the person besides identifiers."""

    model_config = ConfigDict(str_strip_whitespace=True)

    role: str | None = Field(default=None, max_length=200)
    specialty: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=300)
    org_type: str | None = Field(default=None, max_length=100)
    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2"
    )
    postal_code: str | None = Field(default=None, max_length=20)
    time_zone: str | None = Field(default=None, max_length=64, description="IANA zone name")


class LeadFacts(ProfileFacts):
    """What a lead's workflow may know about the person: no direct identifiers. The fields
    below are set by enrichment at intake, never taken from what a service declares."""

    territory: str | None = Field(default=None, max_length=64, description="set by enrichment")
    hcp_verified: bool | None = Field(
        default=None,
        description="set by enrichment from verified data, never a self-declared field",
    )
    missing_routing_fields: list[str] | None = Field(
        default=None, description="set by enrichment: routing-critical fields missing or invalid"
    )
    npi_valid: bool | None = Field(
        default=None, description="set by enrichment: the lead's NPI passes the NPI Luhn check"
    )


class LeadProfile(ProfileFacts):
    """The `lead` object of the envelope: facts plus the identifiers used for matching."""

    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    npi: str | None = Field(default=None, pattern=r"^\d{10}$")
    crm_id: str | None = Field(default=None, max_length=100)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)

    @field_validator("email")
    @classmethod
    def _lower_case_email(cls, email: str | None) -> str | None:
        return email.lower() if email else email

    @model_validator(mode="after")
    def _needs_an_identifier(self) -> LeadProfile:
        if not (self.email or self.npi or self.crm_id):
            raise ValueError("needs at least one of email, npi, crm_id to identify the lead")
        return self

    def facts(self) -> LeadFacts:
        """The non-identifying part, safe to carry into workflow history."""
        return LeadFacts.model_validate(self.model_dump(include=set(ProfileFacts.model_fields)))


class LeadEventIn(BaseModel):
    """One event as a service posts it to `POST /v1/events` (unknown top-level keys ignored)."""

    event_id: str = Field(min_length=1, max_length=200)
    type: EventType
    occurred_at: AwareDatetime
    lead: LeadProfile
    properties: dict[str, Any] = Field(default_factory=dict)


# What a lead's workflow may read of an event's properties: tags, ids and flags. Free text
# (comments, questions, form fields, notes) is screened at intake and never enters a workflow
# payload, so it never reaches the workflow's history.
WORKFLOW_PROPERTIES = frozenset(
    {
        "topics",
        "asset_id",
        "title",
        "url",
        "event_name",
        "message_id",
        "product",
        "therapy_area",
        "channel",
        "purpose",
        "source",
        "consent_basis",
        "bounce_type",
        "signed_request",
        "form",
        "screening",
    }
)


def page_address(url: str) -> str:
    """A page address without its query or fragment (they can carry identifiers)."""
    return url.split("?", 1)[0].split("#", 1)[0]


def workflow_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties a lead's workflow gets: only those it reads, urls without query strings."""
    kept = {name: value for name, value in properties.items() if name in WORKFLOW_PROPERTIES}
    if isinstance(kept.get("url"), str):
        kept["url"] = page_address(kept["url"])
    return kept


class LeadEvent(BaseModel):
    """An event as the lead workflow receives it: the envelope without identifiers.

    `type` is a plain string here so that an event of a type this worker does not know is
    recorded as rejected in the decision log instead of failing to decode.
    """

    event_id: str
    type: str
    occurred_at: AwareDatetime
    lead: LeadFacts = Field(default_factory=LeadFacts)
    properties: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_intake(cls, event: LeadEventIn, facts: LeadFacts | None = None) -> LeadEvent:
        """Strip the identifiers and free text; the workflow works on the opaque lead id, tags
        and numbers only."""
        return cls(
            event_id=event.event_id,
            type=event.type.value,
            occurred_at=event.occurred_at,
            lead=facts or event.lead.facts(),
            properties=workflow_properties(event.properties),
        )


class EventBatchIn(BaseModel):
    """The batch form of the envelope: `{"events": [...]}`."""

    events: list[LeadEventIn] = Field(min_length=1, max_length=500)


class EventResult(BaseModel):
    """One line of the 202 answer."""

    event_id: str
    lead_id: str
    status: str = Field(description="accepted | duplicate")


class EventRejected(BaseModel):
    """A bad event of a batch: not delivered, each bad field named (the others go ahead)."""

    event_id: str
    lead_id: None = None
    status: str = "rejected"
    errors: list[dict[str, Any]]


class EventDecided(EventResult):
    """The answer to `POST /v1/events?wait=true`: the result plus what the event did."""

    outcome: dict[str, Any]


class EventsAccepted(BaseModel):
    """The 202 answer to `POST /v1/events`."""

    results: list[EventResult | EventRejected]
