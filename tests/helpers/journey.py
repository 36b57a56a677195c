"""A lead's journey on the time-skipping server: send events, let days pass, read the mail."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from models.events import LeadEvent, LeadEventIn
from models.lead_state import DecisionLog, LeadState, PauseRequest, ResumeRequest, lead_workflow_id
from models.program import load_program
from starter.intake import Intake, IntakeRules
from starter.settings import Settings
from starter.smtp_sink import SmtpSink
from tests.helpers.factories import CLINICIAN, npi_for
from tests.helpers.polling import eventually
from workflows.lead import LeadWorkflow


class Journey:
    """One lead, driven through the real intake service, worker, SMTP server and database."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        settings: Settings,
        db: Engine,
        sink: SmtpSink,
        **profile: Any,
    ) -> None:
        self.env = env
        self.settings = settings
        self.db = db
        self.sink = sink
        self.profile = {**CLINICIAN, **profile}
        self.profile.setdefault("npi", npi_for(self.profile["email"]))
        self.lead_id: str | None = None
        # Like the API, intake reads the program once, when it starts.
        rules = IntakeRules.of(load_program(settings.program))
        self.intake = Intake(env.client, db, settings.task_queue, rules)

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        assert self.lead_id is not None, "send an event first"
        return self.env.client.get_workflow_handle_for(
            LeadWorkflow.run, lead_workflow_id(self.lead_id)
        )

    async def event(self, type: str, **properties: Any) -> str:
        """Deliver one event and wait until the workflow has applied it."""
        event_id = f"evt-{uuid.uuid4().hex}"
        event = LeadEventIn.model_validate(
            {
                "event_id": event_id,
                "type": type,
                "occurred_at": datetime.now(UTC).isoformat(),
                "lead": self.profile,
                "properties": properties,
            }
        )
        [result] = await self.intake.submit([event])
        self.lead_id = result.lead_id
        await self.until(lambda s: event_id in s.recent_event_ids)
        return event_id

    async def raw_event(
        self, type: str, occurred_at: datetime | None = None, **properties: Any
    ) -> str:
        """Signal an event straight to the workflow, bypassing the intake's validation (as an
        older or newer service version might). Without `occurred_at` it happened a day ago."""
        event_id = f"evt-{uuid.uuid4().hex}"
        when = occurred_at or (await self.env.get_current_time()) - timedelta(days=1)
        event = LeadEvent(event_id=event_id, type=type, occurred_at=when, properties=properties)
        await self.handle.signal(LeadWorkflow.record_event, event)
        await self.until(lambda s: event_id in s.recent_event_ids)
        return event_id

    async def pause(self, by: str, reason: str, until: datetime | None = None) -> None:
        await self.handle.signal(
            LeadWorkflow.pause, PauseRequest(by=by, reason=reason, until=until)
        )
        await self.until(lambda s: s.pause is not None)

    async def resume(self, by: str, reason: str | None = None) -> None:
        await self.handle.signal(LeadWorkflow.resume, ResumeRequest(by=by, reason=reason))
        await self.until(lambda s: s.pause is None)

    async def state(self) -> LeadState:
        # A query that lands while a run is handing over to the next (continue-as-new) can be
        # lost by the test server; ask again rather than wait out the default RPC timeout.
        for _ in range(10):
            try:
                return await self.handle.query(  # type: ignore[no-any-return]
                    LeadWorkflow.state, rpc_timeout=timedelta(seconds=3)
                )
            except RPCError as err:
                if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                    raise
        raise AssertionError("the lead's workflow did not answer its state query")

    async def decisions(self) -> DecisionLog:
        return await self.handle.query(LeadWorkflow.decisions)  # type: ignore[no-any-return]

    async def until(self, check: Any) -> LeadState:
        """Poll the workflow's state until `check(state)` holds (real time, with a deadline)."""

        async def probe() -> LeadState | None:
            state = await self.state()
            return state if check(state) else None

        return await eventually(probe)  # type: ignore[no-any-return]

    async def days(self, days: float) -> None:
        """Let `days` pass on the server's clock, stopping at every wake-up of the workflow so
        each touch due in between is sent (its activities run in real time) in order."""
        target = await self._server_now() + timedelta(days=days)
        for _ in range(500):
            state = await self.state()
            wakes = [state.next_touch_at, state.pause.until if state.pause else None]
            due = min((w for w in wakes if w is not None), default=None)
            now = await self._server_now()
            if due is None or due >= target:
                if target > now:
                    await self.env.sleep(target - now)
                await self._settle()
                return
            await self.env.sleep(max(due - now, timedelta(0)) + timedelta(seconds=1))
            await self._settle()
        raise AssertionError("the lead kept waking up without making progress")

    async def _settle(self) -> None:
        # A touch that came due runs its activities in real time: wait until nothing is due.
        for _ in range(200):
            state = await self.state()
            due = state.next_touch_at
            if due is None or due > await self._server_now():
                return
            await asyncio.sleep(0.02)

    async def _server_now(self) -> datetime:
        return await self.env.get_current_time()

    def emails(self) -> list[EmailMessage]:
        to = self.profile["email"]
        return [m for m in self.sink.messages if m["To"] == to]

    def assets_emailed(self) -> list[str]:
        return [str(m["X-Leadflow-Asset"]).split(";")[0] for m in self.emails()]


NewJourney = Callable[..., Journey]
