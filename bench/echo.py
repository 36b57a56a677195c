"""The ingest bench's baseline: a bare workflow that only counts `record_event` signals."""

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
