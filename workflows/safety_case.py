"""SafetyCaseWorkflow: a screened report reaches drug safety by its deadline, or escalates."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.drug_safety import SafetyActivities
    from models.lead_state import CaseActionInput, CaseActionResult, SafetyCaseInput

FORWARD_ATTEMPT = timedelta(minutes=1)
FORWARD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))


@workflow.defn
class SafetyCaseWorkflow:
    @workflow.run
    async def run(self, case: SafetyCaseInput) -> CaseActionResult:
        request = CaseActionInput(case_ref=case.case_ref)
        forwarding = workflow.start_activity_method(
            SafetyActivities.forward_case,
            request,
            start_to_close_timeout=FORWARD_ATTEMPT,
            retry_policy=FORWARD_RETRY,
        )
        time_left = max(case.forward_by - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(forwarding.done, timeout=time_left)
        except TimeoutError:
            # Late: tell the escalation mailbox now, and keep trying to forward (never dropped).
            await workflow.execute_activity_method(
                SafetyActivities.escalate_case,
                request,
                start_to_close_timeout=FORWARD_ATTEMPT,
                retry_policy=FORWARD_RETRY,
            )
        return await forwarding
