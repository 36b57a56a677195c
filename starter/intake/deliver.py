"""The intake service: events prepared in the database, then delivered to their leads' workflows.

The API, the Segment endpoints, CSV import and the tests all deliver events through one `Intake`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy.engine import Engine
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from leadflow_domain.consent import consent_record_for
from models.events import EventResult, EventType, LeadEvent, LeadEventIn, LeadProfile
from models.lead_state import RECORD_EVENT, EventOutcome, LeadWorkflowInput, lead_workflow_id
from starter.intake.prepare import (
    IntakeRules,
    Prepared,
    append_record,
    mark_delivered,
    prepare,
    unless_delivered,
)
from starter.temporal import keys_of
from workflows.lead import LeadWorkflow
from workflows.safety_case import SafetyCaseWorkflow

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Requests a person is waiting on, and objections, skip the queue of routine events for the
# blocking intake steps: contact odds fall within the first hour, and an opt-out takes effect
# at once.
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
PRIORITY_THREADS = 2


class Intake:
    """Delivers lead events: each is prepared (identity, enrichment, consent, screening) and
    sent to its lead's workflow by signal-with-start, or update-with-start to wait for the
    decision. An event id already delivered is answered `duplicate` and not delivered again."""

    def __init__(
        self, client: Client, db: Engine, task_queue: str, rules: IntakeRules | None = None
    ) -> None:
        self.client = client
        self.db = db
        self.task_queue = task_queue
        self.rules = rules or IntakeRules()
        self._priority_lane: ThreadPoolExecutor | None = None  # made on first use

    async def submit(self, events: list[LeadEventIn]) -> list[EventResult]:
        """Deliver each event in order; one result per event."""
        results = []
        for event in events:
            prepared = await self._blocking(event, unless_delivered, self.db, event, self.rules)
            if isinstance(prepared, str):
                results.append(
                    EventResult(event_id=event.event_id, lead_id=prepared, status="duplicate")
                )
                continue
            lead_id = prepared.lead_id
            await self.deliver(lead_id, prepared.event)
            await self._follow_up(prepared)
            await self._blocking(event, mark_delivered, self.db, event.event_id, lead_id)
            log.info("event accepted", lead_id=lead_id, event_type=event.type.value)
            results.append(EventResult(event_id=event.event_id, lead_id=lead_id, status="accepted"))
        return results

    async def submit_and_wait(self, event: LeadEventIn) -> tuple[str, EventOutcome]:
        """Deliver one event by update-with-start and return the lead id and the decision.

        The update id is the event id, so the server itself drops a repeated delivery.
        """
        prepared = await self._blocking(event, prepare, self.db, event, self.rules)
        lead_id = prepared.lead_id
        start = WithStartWorkflowOperation(
            LeadWorkflow.run,
            LeadWorkflowInput(lead_id=lead_id),
            id=lead_workflow_id(lead_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        outcome = await self.client.execute_update_with_start_workflow(
            LeadWorkflow.submit_event,
            prepared.event,
            start_workflow_operation=start,
            id=event.event_id,
        )
        await self._follow_up(prepared)
        log.info(
            "event decided", lead_id=lead_id, event_type=event.type.value, status=outcome.status
        )
        return lead_id, outcome

    async def withdraw_by_link(self, lead_id: str) -> None:
        """An unsubscribe link was followed: record the withdrawal and tell the lead's workflow.

        The event id is derived from the lead and the day, so a link clicked twice (or by a
        mail scanner and then the person) is one withdrawal.
        """
        keys = keys_of(self.client)
        if keys is not None and await asyncio.to_thread(keys.lead_erased, lead_id):
            # Erased: nothing is kept or started for the person; the address stays suppressed.
            log.info("unsubscribe link of an erased lead: nothing to do", lead_id=lead_id)
            return
        now = datetime.now(UTC)
        # Built without validation: the recipient is known by the signed link, not by
        # identifiers.
        event = LeadEventIn.model_construct(
            event_id=f"unsubscribe-link-{lead_id}-{now:%Y%m%d}",
            type=EventType.CONSENT_WITHDRAWN,
            occurred_at=now,
            lead=LeadProfile.model_construct(),
            properties={
                "channel": "email",
                "purpose": "promotional",
                "source": "unsubscribe_link",
            },
        )
        record = consent_record_for(lead_id, event, None, self.rules.consent)
        assert record is not None
        await asyncio.to_thread(append_record, self.db, record)
        await self.deliver(lead_id, LeadEvent.from_intake(event))
        log.info("unsubscribed by link", lead_id=lead_id)

    async def deliver(self, lead_id: str, event: LeadEvent) -> None:
        """Signal-with-start: one atomic create-or-update of the lead's workflow."""
        await self.client.start_workflow(
            LeadWorkflow.run,
            LeadWorkflowInput(lead_id=lead_id),
            id=lead_workflow_id(lead_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=RECORD_EVENT,
            start_signal_args=[event],
        )

    async def _follow_up(self, prepared: Prepared) -> None:
        """A safety case gets its own workflow: forwarded to drug safety by the deadline."""
        case = prepared.safety_case
        if case is None:
            return
        await self.client.start_workflow(
            SafetyCaseWorkflow.run,
            case,
            id=f"safety-{case.case_ref}",
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def _blocking(self, event: LeadEventIn, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking intake step in a thread: priority events in their own lane."""
        lane = None
        if event.type in PRIORITY_TYPES:
            if self._priority_lane is None:
                self._priority_lane = ThreadPoolExecutor(
                    PRIORITY_THREADS, thread_name_prefix="intake-priority"
                )
            lane = self._priority_lane
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(lane, functools.partial(call, *args))
