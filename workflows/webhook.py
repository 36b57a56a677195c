"""Delivers one CRM task to an external CRM's webhook, retried with backoff until it lands.

Its own workflow, started by the lead's workflow and abandoned to run on: the lead never waits
on a slow CRM, and the workflow id (one per task) keeps a task from being delivered twice."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from models.routing import WebhookInput

WEBHOOK_ATTEMPT_TIMEOUT = timedelta(seconds=30)
WEBHOOK_GIVE_UP_AFTER = timedelta(days=1)
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["WebhookRefused"],
)


@workflow.defn
class CrmWebhookWorkflow:
    @workflow.run
    async def run(self, request: WebhookInput) -> None:
        await workflow.execute_activity_method(
            CrmActivities.deliver_crm_webhook,
            request,
            start_to_close_timeout=WEBHOOK_ATTEMPT_TIMEOUT,
            schedule_to_close_timeout=WEBHOOK_GIVE_UP_AFTER,
            retry_policy=WEBHOOK_RETRY,
        )
