"""The lead workflow's CRM side: route orders and SLA breaches become CRM tasks (enriching
first where a territory is missing), and task status changes are written back."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from models.routing import (
        CrmTaskInput,
        CrmTaskResult,
        EnrichFactsInput,
        EnrichFactsResult,
        WebhookInput,
    )
    from workflows import sla
    from workflows.activity_calls import execute
    from workflows.engine import LeadEngine
    from workflows.webhook import CrmWebhookWorkflow


class TaskDispatcher:
    """Runs the CRM activities the engine's routing decisions ask for, one batch at a time."""

    def __init__(self) -> None:
        self._dispatching = asyncio.Lock()  # one coroutine turns orders into tasks at a time

    @property
    def busy(self) -> bool:
        """A batch is being written: a task it creates may not be in the state yet."""
        return self._dispatching.locked()

    async def dispatch_routes(self, engine: LeadEngine) -> None:
        """Turn routing decisions into CRM tasks (enriching first where a territory is
        missing), then write task status changes."""
        async with self._dispatching:
            desk, state = engine.handoff, engine.state
            while state.route_orders:
                order = state.route_orders[0]
                if order.needs_enrichment:
                    enriched = await self._enrich(engine)
                    engine.router.record_enrichment(order, enriched, workflow.now())
                    continue
                result = await self._create_task(desk.task_input(order, workflow.now()))
                desk.record_task_created(order, result, workflow.now())
            await self._write_task_updates(engine)

    async def escalate_breaches(self, engine: LeadEngine) -> None:
        """An SLA breach moves the task to the escalation queue (ops review the second time)
        and tells the queue's manager; the activity does both."""
        async with self._dispatching:
            desk = engine.handoff
            for old, order in sla.record_breaches(engine, workflow.now()):
                task = desk.task_input(order, workflow.now(), escalated_from=old)
                result = await self._create_task(task)
                desk.record_escalation(old, order, result, workflow.now())
            await self._write_task_updates(engine)

    async def _enrich(self, engine: LeadEngine) -> EnrichFactsResult:
        facts = engine.state.facts
        return await execute(
            CrmActivities.enrich_facts,
            EnrichFactsInput(
                lead_id=engine.state.lead_id,
                country=facts.country,
                postal_code=facts.postal_code,
                role=facts.role,
                specialty=facts.specialty,
                org_type=facts.org_type,
            ),
        )

    async def _create_task(self, task: CrmTaskInput) -> CrmTaskResult:
        result = await execute(CrmActivities.create_crm_task, task)
        if result.webhook:
            # Its own workflow retries the delivery with backoff; the lead does not wait. Its
            # id is the task's, so a task is never delivered by two workflows.
            with contextlib.suppress(WorkflowAlreadyStartedError):  # already delivering it
                await workflow.start_child_workflow(
                    CrmWebhookWorkflow.run,
                    WebhookInput(task_id=task.task_id),
                    id=f"crm-webhook-{task.task_id}",
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
        return result

    async def _write_task_updates(self, engine: LeadEngine) -> None:
        for update in engine.handoff.take_task_updates():
            await execute(CrmActivities.update_crm_task, update)
