"""The benches' baselines: bare workflows that only count `record_event` signals (BenchEcho for
bench.ingest; BenchNoOp, which continues as new as a lead does, for bench.lead_throughput)."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.events import LeadEvent
    from models.lead_state import RECORD_EVENT


@dataclass
class EchoInput:
    lead_key: str


@workflow.defn(name="BenchEcho")
class EchoWorkflow:
    """Receives the same `LeadEvent` payloads as a lead, decodes them and counts them."""

    @workflow.init
    def __init__(self, input: EchoInput) -> None:
        self._count = 0

    @workflow.run
    async def run(self, input: EchoInput) -> None:
        await workflow.wait_condition(lambda: False)  # lives on, as a lead does

    @workflow.signal(name=RECORD_EVENT)
    def record_event(self, event: LeadEvent) -> None:
        self._count += 1

    @workflow.query
    def count(self) -> int:
        return self._count


@dataclass
class NoOpInput:
    max_history_events: int
    count: int = 0


@workflow.defn(name="BenchNoOp")
class NoOpWorkflow:
    """Counts `record_event` signals; continues as new at the program's history length."""

    @workflow.init
    def __init__(self, input: NoOpInput) -> None:
        self._count = input.count

    @workflow.run
    async def run(self, input: NoOpInput) -> None:
        def long() -> bool:
            info = workflow.info()
            return (
                info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= input.max_history_events
            )

        await workflow.wait_condition(long)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(NoOpInput(input.max_history_events, self._count))

    @workflow.signal(name=RECORD_EVENT)
    def record_event(self, event: LeadEvent) -> None:
        self._count += 1

    @workflow.query
    def count(self) -> int:
        return self._count
