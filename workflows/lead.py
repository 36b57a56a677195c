"""LeadWorkflow: one long-lived workflow per lead; its history is the lead's audit record."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.events import LeadEvent
    from models.lead import (
        LOAD_PROGRAM,
        RECORD_EVENT,
        SEND_TOUCH,
        Decision,
        DecisionLog,
        LeadState,
        LeadWorkflowInput,
        LeadWorkflowResult,
        LoadProgramInput,
        SendTouchInput,
        SendTouchResult,
        Stage,
        TouchRecord,
    )
    from models.program import Program
    from workflows import cadence

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
MAX_EVENTS_PER_RUN = 1_000


@workflow.defn
class LeadWorkflow:
    @workflow.init
    def __init__(self, input: LeadWorkflowInput) -> None:
        self._state = input.state or LeadState(lead_id=input.lead_id)
        self._inbox: list[LeadEvent] = []
        self._events_this_run = 0
        self._program: Program | None = None

    @workflow.run
    async def run(self, input: LeadWorkflowInput) -> LeadWorkflowResult:
        self._program = await self._load_program()
        while not self._should_continue_as_new():
            await self._wait_for_event_or_touch()
            self._process_inbox()
            if cadence.touch_due(self._state, workflow.now()):
                await self._send_touch()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._process_inbox()
        workflow.continue_as_new(LeadWorkflowInput(lead_id=self._state.lead_id, state=self._state))

    @workflow.signal(name=RECORD_EVENT)
    def record_event(self, event: LeadEvent) -> None:
        """Queue an event; the run loop applies it (duplicates are dropped there)."""
        self._inbox.append(event)

    @workflow.query
    def state(self) -> LeadState:
        return self._state

    @workflow.query
    def decisions(self) -> DecisionLog:
        return DecisionLog(lead_id=self._state.lead_id, decisions=self._state.decisions)

    async def _load_program(self) -> Program:
        program = await workflow.execute_activity(
            LOAD_PROGRAM,
            LoadProgramInput(),
            result_type=Program,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._state.program_version = program.version
        return program

    async def _wait_for_event_or_touch(self) -> None:
        timeout = None
        if self._state.next_touch_at is not None:
            timeout = max(self._state.next_touch_at - workflow.now(), timedelta(0))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: bool(self._inbox), timeout=timeout)

    def _process_inbox(self) -> None:
        while self._inbox:
            event = self._inbox.pop(0)
            self._events_this_run += 1
            trigger = f"event:{event.event_id}"
            if not self._state.remember_event(event.event_id):
                self._decide(trigger, "event.duplicate", "ignored duplicate delivery")
                continue
            self._state.facts = event.lead
            self._apply_event(event, trigger)

    def _apply_event(self, event: LeadEvent, trigger: str) -> None:
        assert self._program is not None
        inputs = {"type": event.type.value}
        if self._state.stage is Stage.NEW:
            self._state.stage = Stage.ENGAGED
            self._decide(trigger, "stage.first_event", "stage new -> engaged", inputs)
        due = cadence.plan_first_touch(self._state, event, self._program, workflow.now())
        if due is not None:
            self._state.next_touch_at = due
            self._decide(
                trigger,
                "cadence.first_touch",
                f"first touch scheduled for {due.isoformat()}",
                inputs | {"delay": str(self._program.cadence.first_touch_delay)},
            )

    async def _send_touch(self) -> None:
        assert self._program is not None
        touch_id = f"touch-{len(self._state.touches) + 1}"
        asset_id = self._program.content.first_touch
        self._state.next_touch_at = None
        result = await workflow.execute_activity(
            SEND_TOUCH,
            SendTouchInput(
                lead_id=self._state.lead_id,
                touch_id=touch_id,
                asset_id=asset_id,
                trigger="timer:first_touch",
                program_version=self._program.version,
            ),
            result_type=SendTouchResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._record_touch(touch_id, result)

    def _record_touch(self, touch_id: str, result: SendTouchResult) -> None:
        self._state.touches.append(
            TouchRecord(
                touch_id=touch_id,
                asset_id=result.asset_id,
                asset_version=result.asset_version,
                status=result.status,
                at=workflow.now(),
                message_id=result.message_id,
            )
        )
        outcome = (
            f"sent {result.asset_id} v{result.asset_version}"
            if result.status == "sent"
            else f"not sent: {result.reason}"
        )
        self._decide("timer:first_touch", f"touch.{result.status}", outcome, {"touch_id": touch_id})
        if result.status == "sent" and self._state.stage is Stage.ENGAGED:
            self._state.stage = Stage.NURTURING
            self._decide("timer:first_touch", "stage.first_touch", "stage engaged -> nurturing")

    def _decide(
        self, trigger: str, rule_id: str, outcome: str, inputs: dict[str, str] | None = None
    ) -> None:
        self._state.decisions.append(
            Decision(
                at=workflow.now(),
                trigger=trigger,
                rule_id=rule_id,
                program_version=self._state.program_version,
                inputs=inputs or {},
                outcome=outcome,
            )
        )
        workflow.logger.info("decision", extra={"lead_id": self._state.lead_id, "rule_id": rule_id})

    def _should_continue_as_new(self) -> bool:
        return (
            self._events_this_run >= MAX_EVENTS_PER_RUN
            or workflow.info().is_continue_as_new_suggested()
        )
