"""Preparing an event for its lead: enrichment, identity, consent, suppression and screening,
recorded in the database before the lead's workflow sees the event."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from leadflow_domain.consent import append_consent, consent_record_for, suppress
from leadflow_domain.enrichment import EnrichmentResult, enrich, enriched_facts, npi_is_valid
from leadflow_domain.free_text_screen import free_text_fields, redact, screen
from leadflow_domain.safety_cases import open_case
from models.compliance_rules import ConsentRules
from models.events import (
    EventType,
    LeadEvent,
    LeadEventIn,
    LeadFacts,
    LeadProfile,
    workflow_properties,
)
from models.lead_state import SafetyCaseInput
from models.program import Program
from models.reference import ReferenceData
from models.screening import Screening
from models.tables import ConsentRecord, Lead, ReceivedEvent, ScreeningCase, utcnow
from starter.identity import IdentityConflict, resolve
from starter.stewardship import open_weak_match_reviews, record_conflict

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IntakeRules:
    """What the program says about intake: consent regimes, reference data, screening."""

    consent: ConsentRules = field(default_factory=ConsentRules)
    reference: ReferenceData = field(default_factory=ReferenceData)
    screening: Screening | None = None

    @classmethod
    def of(cls, program: Program) -> IntakeRules:
        return cls(
            consent=program.consent, reference=program.reference, screening=program.screening
        )


@dataclass(frozen=True)
class Prepared:
    """An event ready for its lead's workflow, and a safety case to follow up, if any."""

    lead_id: str
    event: LeadEvent
    safety_case: SafetyCaseInput | None = None


def prepare(db: Engine, event: LeadEventIn, rules: IntakeRules) -> Prepared:
    """Normalise and check the lead's data, find or create the lead, and record at once what
    the company must know: consent changes in the ledger, bounces and complaints on the
    suppression list, and any free text flagged by screening in a safety or medical case
    (the workflow then sees only the case reference)."""
    enriched = enrich(event.lead, None, rules.reference)
    profile = event.lead.model_copy(
        update={
            "email": enriched.email,
            "first_name": enriched.first_name,
            "last_name": enriched.last_name,
            "country": enriched.country,
        }
    )
    with Session(db) as session:
        lead_id = _resolve(session, profile, link_on_email=not enriched.email_shared_inbox)
        lead = session.get(Lead, lead_id)
        country = lead.country if lead else enriched.country
        _record_consent_and_suppression(session, lead_id, lead, country, event, rules)
        facts = _facts(event, enriched, lead, country)
        screened = _screen(session, lead_id, event, rules, reporter=bool(lead and lead.email))
    lead_event = LeadEvent.from_intake(event, facts)
    if screened is None:
        return Prepared(lead_id, lead_event)
    case, properties = screened
    lead_event = lead_event.model_copy(update={"properties": workflow_properties(properties)})
    safety = (
        SafetyCaseInput(case_ref=case.case_ref, forward_by=case.forward_by)
        if case.forward_by is not None
        else None
    )
    return Prepared(lead_id, lead_event, safety)


def _record_consent_and_suppression(
    session: Session,
    lead_id: str,
    lead: Lead | None,
    country: str | None,
    event: LeadEventIn,
    rules: IntakeRules,
) -> None:
    """A consent change goes in the ledger; a hard bounce or complaint suppresses the address."""
    record = consent_record_for(lead_id, event, country, rules.consent)
    if record is not None:
        append_consent(session, record)
    hard_bounce = (
        event.type is EventType.EMAIL_BOUNCED and event.properties.get("bounce_type") == "hard"
    )
    if lead and lead.email and (hard_bounce or event.type is EventType.SPAM_COMPLAINT):
        suppress(session, lead.email, "hard_bounce" if hard_bounce else "spam_complaint")


def _facts(
    event: LeadEventIn, enriched: EnrichmentResult, lead: Lead | None, country: str | None
) -> LeadFacts:
    """HCP status from verified data only: a valid US NPI on record, or a CRM record."""
    verified = bool(lead and ((lead.npi and enriched.npi_valid and country == "US") or lead.crm_id))
    npi_valid = bool(lead and lead.npi and npi_is_valid(lead.npi))
    return enriched_facts(event.lead, enriched, hcp_verified=verified, npi_valid=npi_valid)


def _resolve(session: Session, profile: LeadProfile, link_on_email: bool) -> str:
    """The event's lead; a weak match or a conflict also goes to a data steward, never
    merged automatically."""
    try:
        resolution = resolve(session, profile, link_on_email=link_on_email)
    except IdentityConflict as err:
        record_conflict(session, err.lead_ids)
        raise
    if resolution.rekeyed:
        open_weak_match_reviews(session, resolution.lead_id)
    return resolution.lead_id


def _screen(
    session: Session, lead_id: str, event: LeadEventIn, rules: IntakeRules, reporter: bool
) -> tuple[ScreeningCase, dict[str, Any]] | None:
    """Screen every free-text field; a routed report opens a case and is withheld."""
    if rules.screening is None:
        return None
    texts = free_text_fields(event.type.value, event.properties)
    if not texts:
        return None
    result = screen(texts, rules.screening, reporter_identifiable=reporter)
    if result.route is None:
        return None
    awareness = min(event.occurred_at, datetime.now(UTC))  # first receipt by a company system
    case = open_case(
        session,
        lead_id=lead_id,
        event_id=event.event_id,
        event_type=event.type.value,
        result=result,
        texts=texts,
        awareness_at=awareness,
        rules=rules.screening.safety,
    )
    properties = copy.deepcopy(event.properties)
    for path, replacement in redact(texts, result, case.case_ref).items():
        _set_path(properties, path.removeprefix("properties."), replacement)
    properties["screening"] = {
        "case_ref": case.case_ref,
        "route": case.route,
        "flags": result.flags,
    }
    log.info("screened event routed", lead_id=lead_id, case_ref=case.case_ref, route=case.route)
    return case, properties


def _set_path(target: dict[str, Any], path: str, value: str) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        target[head] = value
    elif isinstance(target.get(head), dict):
        _set_path(target[head], rest, value)


def delivered_to(db: Engine, event_id: str) -> str | None:
    with Session(db) as session:
        row = session.get(ReceivedEvent, event_id)
        return row.lead_id if row else None


def mark_delivered(db: Engine, event_id: str, lead_id: str) -> None:
    """Remember the event id (after delivery: a crash in between only means the workflow,
    which also drops duplicates, sees it twice)."""
    with Session(db) as session:
        session.add(ReceivedEvent(event_id=event_id, lead_id=lead_id, received_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def unless_delivered(db: Engine, event: LeadEventIn, rules: IntakeRules) -> Prepared | str:
    """The lead id an event id was already delivered to, or the event prepared for delivery."""
    earlier = delivered_to(db, event.event_id)
    return earlier if earlier is not None else prepare(db, event, rules)


def append_record(db: Engine, record: ConsentRecord) -> None:
    with Session(db) as session:
        append_consent(session, record)
