"""The CRM side of handoff: embedded task tables, SLA due times, escalation mail, a second
enrichment pass for routing, and the signed webhook to an external CRM."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import structlog
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging import SmtpTarget, send_notice
from leadflow_domain.business_hours import add_business_time
from leadflow_domain.crm_context import task_context
from leadflow_domain.enrichment import enrich
from models.compliance_rules import ConsentRules
from models.events import LeadProfile
from models.program import ProgramError, load_program
from models.queries import task_view
from models.routing import (
    BusinessHours,
    CrmTaskInput,
    CrmTaskResult,
    EnrichFactsInput,
    EnrichFactsResult,
    TaskUpdateInput,
    WebhookInput,
)
from models.tables import CrmTask, utcnow

log = structlog.get_logger(__name__)
IDENTIFIERS = frozenset({"email", "npi", "crm_id"})
SIGNATURE_HEADER = "X-Leadflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Webhook:
    url: str | None
    secret: str | None
    timeout_seconds: float = 10.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _due_at(request: CrmTaskInput) -> datetime | None:
    """The SLA due time in business hours of the lead's time zone and country."""
    if request.sla is None:
        return None
    hours = request.hours or BusinessHours()
    return add_business_time(
        request.opened_at, request.sla, hours, request.time_zone, request.country
    )


class CrmActivities:
    def __init__(self, db: Engine, smtp: SmtpTarget, program_path: Path, webhook: Webhook) -> None:
        self._db = db
        self._smtp = smtp
        self._program_path = program_path
        self._webhook = webhook

    @activity.defn(name="create_crm_task")
    def create_crm_task(self, request: CrmTaskInput) -> CrmTaskResult:
        """Create the task once: a retry finds the row it made and answers the same."""
        due_at = _due_at(request)
        with Session(self._db) as session:
            created = self._insert_task(session, request, due_at)
            # An escalation also finishes what an earlier attempt may not have.
            if request.escalated_from:
                self._escalate(session, request)
            if created is not None:
                log.info(
                    "crm task created",
                    task_id=created.task_id,
                    lead_id=created.lead_id,
                    queue=created.queue,
                )
                return CrmTaskResult(
                    task_id=created.task_id,
                    queue=created.queue,
                    due_at=due_at,
                    created=True,
                    webhook=bool(self._webhook.url),
                )
            existing = session.get(CrmTask, request.task_id)
            assert existing is not None
            return CrmTaskResult(
                task_id=existing.task_id,
                queue=existing.queue,
                due_at=existing.due_at,
                created=False,
                webhook=bool(self._webhook.url) and existing.webhook_delivered_at is None,
            )

    def _insert_task(
        self, session: Session, request: CrmTaskInput, due_at: datetime | None
    ) -> CrmTask | None:
        """The task row, written now; None when it exists already (a retry, or a concurrent
        attempt made it first)."""
        if session.get(CrmTask, request.task_id) is not None:
            return None
        # The SLA comes with the request (the lead's program version); a broken program file
        # only costs the consent regime's details, never the task.
        try:
            consent_rules = load_program(self._program_path).consent
        except ProgramError:
            consent_rules = ConsentRules()
        task = CrmTask(
            task_id=request.task_id,
            lead_id=request.lead_id,
            queue=request.queue,
            kind=request.kind.value,
            status="open",
            rule_id=request.rule_id,
            rank=request.rank,
            reason=request.reason[:500],
            request=request.request,
            program_version=request.program_version,
            context=json.dumps(task_context(session, request, consent_rules, due_at)),
            created_at=utcnow(),
            due_at=due_at,
            escalated_from=request.escalated_from,
        )
        session.add(task)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return task

    def _escalate(self, session: Session, request: CrmTaskInput) -> None:
        """Tell the breached queue's manager (reference only), then mark the task escalated;
        a retry after a failed mail tries the mail again."""
        old = session.get(CrmTask, request.escalated_from)
        if old is None or old.status == "escalated":
            return
        if request.escalation_manager:
            send_notice(
                self._smtp,
                "leadflow-routing@leadflow.local",
                request.escalation_manager,
                f"SLA breached: task {old.task_id} in {old.queue}",
                [
                    f"Task {old.task_id} ({old.kind}) for lead {old.lead_id} was due by "
                    f"{old.due_at.isoformat() if old.due_at else 'n/a'} and nobody accepted it.",
                    f"It has been escalated to {request.queue} as task {request.task_id}.",
                ],
            )
        old.status = "escalated"
        old.updated_at = utcnow()
        old.resolution = f"escalated to {request.queue}"
        session.add(old)
        session.commit()
        log.info("crm task escalated", task_id=old.task_id, lead_id=old.lead_id, to=request.queue)

    @activity.defn(name="update_crm_task")
    def update_crm_task(self, request: TaskUpdateInput) -> None:
        with Session(self._db) as session:
            session.execute(
                update(CrmTask)
                .where(col(CrmTask.task_id) == request.task_id)
                .values(
                    status=request.status,
                    actor=request.actor,
                    resolution=request.reason,
                    note=request.note,
                    updated_at=utcnow(),
                )
            )
            session.commit()

    @activity.defn(name="enrich_facts")
    def enrich_facts(self, request: EnrichFactsInput) -> EnrichFactsResult:
        """Routing needs a territory: map again with the program's current reference data."""
        try:
            reference = load_program(self._program_path).reference
        except ProgramError:  # an unreadable program: routing goes on, to the data steward
            return EnrichFactsResult(territory=None, missing_routing_fields=["territory"])
        # Facts the workflow already holds (validated at intake), without identifiers.
        profile = LeadProfile.model_construct(
            **request.model_dump(
                include={"country", "postal_code", "role", "specialty", "org_type"}
            )
        )
        result = enrich(profile, None, reference)
        # The workflow holds no identifiers: only what routing itself can lack counts here.
        missing = [f for f in result.missing_routing_fields if f not in IDENTIFIERS]
        territory = result.territory
        return EnrichFactsResult(territory=territory, missing_routing_fields=missing)

    @activity.defn(name="deliver_crm_webhook")
    def deliver_crm_webhook(self, request: WebhookInput) -> None:
        """POST the task, signed, with its id as idempotency key; retried by the caller until
        a 2xx. A 4xx other than 408/429 is final (the CRM refuses this payload)."""
        if not self._webhook.url:
            return
        with Session(self._db) as session:
            task = session.get(CrmTask, request.task_id)
            if task is None:
                raise ApplicationError(
                    f"no task {request.task_id}", type="WebhookRefused", non_retryable=True
                )
            if task.webhook_delivered_at is not None:
                return
            body = json.dumps(
                {"event": request.event, "task": task_view(task)}, sort_keys=True
            ).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: request.task_id,
        }
        if self._webhook.secret:
            headers[SIGNATURE_HEADER] = sign(self._webhook.secret, body)
        response = httpx.post(
            self._webhook.url, content=body, headers=headers, timeout=self._webhook.timeout_seconds
        )
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise ApplicationError(
                f"CRM webhook refused task {request.task_id}: HTTP {response.status_code}",
                type="WebhookRefused",
                non_retryable=True,
            )
        response.raise_for_status()
        with Session(self._db) as session:
            session.execute(
                update(CrmTask)
                .where(col(CrmTask.task_id) == request.task_id)
                .values(webhook_delivered_at=utcnow())
            )
            session.commit()
        log.info("crm webhook delivered", task_id=request.task_id, status=response.status_code)
