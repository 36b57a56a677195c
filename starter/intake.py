"""Event intake: the one service the API and the CLI call to deliver events to leads."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from leadflow_domain.consent import append_consent, consent_record_for, suppress
from leadflow_domain.enrichment import enrich, npi_is_valid
from leadflow_domain.free_text_screen import free_text_fields, redact, screen
from leadflow_domain.safety_cases import open_case
from models.events import (
    EventRejected,
    EventResult,
    EventType,
    LeadEvent,
    LeadEventIn,
    LeadProfile,
)
from models.lead_state import RECORD_EVENT, EventOutcome, LeadWorkflowInput, SafetyCaseInput
from models.program import ConsentRules, Program
from models.reference import ReferenceData
from models.screening import Screening
from models.tables import ConsentRecord, Lead, ReceivedEvent, ScreeningCase, utcnow
from starter.identity import IdentityConflict, resolve
from starter.stewardship import open_weak_match_reviews, record_conflict
from workflows.checks import rejection
from workflows.lead import LeadWorkflow
from workflows.safety_case import SafetyCaseWorkflow

log = structlog.get_logger(__name__)
T = TypeVar("T")


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


DEFAULT_RULES = IntakeRules()
MAX_BATCH = 500
MAX_BODY_BYTES = 1_000_000  # per request body: workflow payloads stay far below Temporal's 2 MB


class EventPayloadError(ValueError):
    """A payload that cannot be accepted; `problems` name each bad field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def workflow_id(lead_id: str) -> str:
    return f"lead-{lead_id}"


def _problems(err: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"field": prefix + (".".join(str(p) for p in e["loc"]) or "body"), "message": e["msg"]}
        for e in err.errors()
    ]


def validate_event(raw: Any, prefix: str = "") -> LeadEventIn:
    """One event, checked at the edge exactly as its workflow will check it.

    Raises:
        EventPayloadError: naming every bad field, each prefixed with `prefix`.
    """
    try:
        event = LeadEventIn.model_validate(raw)
    except ValidationError as err:
        raise EventPayloadError(_problems(err, prefix)) from err
    problem = rejection(LeadEvent.from_intake(event))
    if problem:
        field, message = problem.split(": ", 1)
        raise EventPayloadError([{"field": prefix + field, "message": message}])
    return event


@dataclass(frozen=True)
class ParsedBody:
    """A request body: the good events, and one rejection per bad event of a batch."""

    events: list[LeadEventIn]
    is_batch: bool
    rejected: list[EventRejected] = field(default_factory=list)


def parse_body(body: bytes) -> ParsedBody:
    """Validate one event or `{"events": [...]}`. A single bad event, or a body that is not
    a batch at all, raises; in a batch, bad events are rejected one by one and the good ones
    go ahead.

    Raises:
        EventPayloadError: naming every bad field (for example `events.0.type`).
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EventPayloadError([{"field": "body", "message": f"not valid JSON: {err}"}]) from err
    if not isinstance(raw, dict):
        raise EventPayloadError([{"field": "body", "message": "must be a JSON object"}])
    if "events" not in raw:
        return ParsedBody([validate_event(raw)], is_batch=False)
    items = raw["events"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise EventPayloadError(
            [{"field": "events", "message": f"must be a list of 1 to {MAX_BATCH} events"}]
        )
    parsed = ParsedBody([], is_batch=True)
    for index, item in enumerate(items):
        try:
            parsed.events.append(validate_event(item, f"events.{index}."))
        except EventPayloadError as err:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            parsed.rejected.append(
                EventRejected(event_id=str(event_id or f"#{index}"), errors=err.problems)
            )
    return parsed


def parse_events(body: bytes) -> tuple[list[LeadEventIn], bool]:
    """All-or-nothing validation (the CLI): the events, and whether the body was a batch."""
    parsed = parse_body(body)
    if parsed.rejected:
        raise EventPayloadError([p for r in parsed.rejected for p in r.errors])
    return parsed.events, parsed.is_batch


async def deliver(client: Client, task_queue: str, lead_id: str, event: LeadEvent) -> None:
    """Signal-with-start: one atomic create-or-update of the lead's workflow."""
    await client.start_workflow(
        LeadWorkflow.run,
        LeadWorkflowInput(lead_id=lead_id),
        id=workflow_id(lead_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=RECORD_EVENT,
        start_signal_args=[event],
    )


async def submit_events(
    client: Client,
    db: Engine,
    task_queue: str,
    events: list[LeadEventIn],
    rules: IntakeRules = DEFAULT_RULES,
) -> list[EventResult]:
    """Resolve each event's lead and signal-with-start its workflow; an event id already
    delivered is answered `duplicate` and not delivered again."""
    results = []
    for event in events:
        prepared = await _blocking(event, _unless_delivered, db, event, rules)
        if isinstance(prepared, str):
            results.append(
                EventResult(event_id=event.event_id, lead_id=prepared, status="duplicate")
            )
            continue
        lead_id = prepared.lead_id
        await deliver(client, task_queue, lead_id, prepared.event)
        await _follow_up(client, task_queue, prepared)
        await _blocking(event, _mark_delivered, db, event.event_id, lead_id)
        log.info("event accepted", lead_id=lead_id, event_type=event.type.value)
        results.append(EventResult(event_id=event.event_id, lead_id=lead_id, status="accepted"))
    return results


# Requests a person is waiting on, and objections, skip the queue of routine events for the
# blocking intake steps (DOMAIN 25: speed to lead; an opt-out takes effect at once).
PRIORITY_TYPES = frozenset(
    {
        EventType.MEETING_REQUESTED,
        EventType.DEMO_REQUESTED,
        EventType.SAMPLE_REQUESTED,
        EventType.PRICING_REQUESTED,
        EventType.MEDICAL_QUESTION,
        EventType.TRIAL_QUESTION,
        EventType.UNSUBSCRIBED,
        EventType.CONSENT_WITHDRAWN,
        EventType.SPAM_COMPLAINT,
    }
)
_PRIORITY_LANE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake-priority")


async def _blocking(event: LeadEventIn, call: Callable[..., T], *args: Any) -> T:
    """Run a blocking intake step in a thread: priority events in their own lane."""
    lane = _PRIORITY_LANE if event.type in PRIORITY_TYPES else None
    return await asyncio.get_running_loop().run_in_executor(lane, functools.partial(call, *args))


def _unless_delivered(db: Engine, event: LeadEventIn, rules: IntakeRules) -> Prepared | str:
    """The lead id an event id was already delivered to, or the event prepared for delivery."""
    earlier = _delivered_to(db, event.event_id)
    return earlier if earlier is not None else _prepare(db, event, rules)


async def submit_event_and_wait(
    client: Client,
    db: Engine,
    task_queue: str,
    event: LeadEventIn,
    rules: IntakeRules = DEFAULT_RULES,
) -> tuple[str, EventOutcome]:
    """Deliver one event by update-with-start and return the lead id and the decision.

    The update id is the event id, so the server itself drops a repeated delivery.
    """
    prepared = await _blocking(event, _prepare, db, event, rules)
    lead_id = prepared.lead_id
    start = WithStartWorkflowOperation(
        LeadWorkflow.run,
        LeadWorkflowInput(lead_id=lead_id),
        id=workflow_id(lead_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    outcome = await client.execute_update_with_start_workflow(
        LeadWorkflow.submit_event,
        prepared.event,
        start_workflow_operation=start,
        id=event.event_id,
    )
    await _follow_up(client, task_queue, prepared)
    log.info("event decided", lead_id=lead_id, event_type=event.type.value, status=outcome.status)
    return lead_id, outcome


@dataclass(frozen=True)
class Prepared:
    """An event ready for its lead's workflow, and a safety case to follow up, if any."""

    lead_id: str
    event: LeadEvent
    safety_case: SafetyCaseInput | None = None


def _prepare(db: Engine, event: LeadEventIn, rules: IntakeRules) -> Prepared:
    """Normalise and check the lead's data, find or create the lead, and record at once what
    the company must know: consent changes in the ledger, bounces and complaints on the
    suppression list, and any free text flagged by screening in a safety or medical case
    (the workflow then sees only the case reference, DOMAIN 1-4)."""
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
        record = consent_record_for(lead_id, event, country, rules.consent)
        if record is not None:
            append_consent(session, record)
        hard_bounce = (
            event.type is EventType.EMAIL_BOUNCED and event.properties.get("bounce_type") == "hard"
        )
        if lead and lead.email and (hard_bounce or event.type is EventType.SPAM_COMPLAINT):
            suppress(session, lead.email, "hard_bounce" if hard_bounce else "spam_complaint")
        verified = bool(
            lead and ((lead.npi and enriched.npi_valid and country == "US") or lead.crm_id)
        )
        npi_valid = bool(lead and lead.npi and npi_is_valid(lead.npi))
        screened = _screen(session, lead_id, event, rules, reporter=bool(lead and lead.email))
    facts = event.lead.facts().model_copy(
        update={
            "role": enriched.role or event.lead.role,
            "specialty": enriched.specialty or event.lead.specialty,
            "org_type": enriched.org_type or event.lead.org_type,
            "country": enriched.country,
            "postal_code": enriched.postal_code or event.lead.postal_code,
            "territory": enriched.territory,
            "hcp_verified": verified,
            "missing_routing_fields": enriched.missing_routing_fields,
            "npi_valid": npi_valid,
        }
    )
    lead_event = LeadEvent.from_intake(event, facts)
    case = None
    if screened is not None:
        case, properties = screened
        lead_event = lead_event.model_copy(update={"properties": properties})
    safety = (
        SafetyCaseInput(case_ref=case.case_ref, forward_by=case.forward_by)
        if case is not None and case.forward_by is not None
        else None
    )
    return Prepared(lead_id, lead_event, safety)


def _resolve(session: Session, profile: LeadProfile, link_on_email: bool) -> str:
    """The event's lead; a weak match or a conflict also goes to a data steward (DOMAIN 20)."""
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


def _delivered_to(db: Engine, event_id: str) -> str | None:
    with Session(db) as session:
        row = session.get(ReceivedEvent, event_id)
        return row.lead_id if row else None


def _mark_delivered(db: Engine, event_id: str, lead_id: str) -> None:
    """Remember the event id (after delivery: a crash in between only means the workflow,
    which also drops duplicates, sees it twice)."""
    with Session(db) as session:
        session.add(ReceivedEvent(event_id=event_id, lead_id=lead_id, received_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


async def _follow_up(client: Client, task_queue: str, prepared: Prepared) -> None:
    """A safety case gets its own workflow: forwarded to drug safety by the deadline."""
    case = prepared.safety_case
    if case is None:
        return
    await client.start_workflow(
        SafetyCaseWorkflow.run,
        case,
        id=f"safety-{case.case_ref}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def withdraw_by_link(
    client: Client,
    db: Engine,
    task_queue: str,
    lead_id: str,
    rules: IntakeRules = DEFAULT_RULES,
) -> None:
    """An unsubscribe link was followed: record the withdrawal and tell the lead's workflow.

    The event id is derived from the lead and the day, so a link clicked twice (or by a mail
    scanner and then the person) is one withdrawal.
    """
    now = datetime.now(UTC)
    # Built without validation: the recipient is known by the signed link, not by identifiers.
    event = LeadEventIn.model_construct(
        event_id=f"unsubscribe-link-{lead_id}-{now:%Y%m%d}",
        type=EventType.CONSENT_WITHDRAWN,
        occurred_at=now,
        lead=LeadProfile.model_construct(),
        properties={"channel": "email", "purpose": "promotional", "source": "unsubscribe_link"},
    )
    record = consent_record_for(lead_id, event, None, rules.consent)
    assert record is not None
    await asyncio.to_thread(_append, db, record)
    await deliver(client, task_queue, lead_id, LeadEvent.from_intake(event))
    log.info("unsubscribed by link", lead_id=lead_id)


def _append(db: Engine, record: ConsentRecord) -> None:
    with Session(db) as session:
        append_consent(session, record)
