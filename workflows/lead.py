"""LeadWorkflow: one long-lived workflow per lead; its history is the lead's audit record.

The workflow is a thin shell: handlers and timers feed the pure `LeadEngine`, activities do
the I/O. It continues as new before its history grows large, archiving its decisions first.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.compliance_reviews import ReviewActivities
    from activities.decisions import DecisionArchive
    from activities.messaging import MessagingActivities
    from activities.program_loader import ProgramActivities
    from models.events import LeadEvent
    from models.lead_state import (
        RECORD_EVENT,
        ArchiveDecisionsInput,
        DecisionLog,
        EventOutcome,
        LeadState,
        LeadWorkflowInput,
        LeadWorkflowResult,
        LoadProgramInput,
        PauseRequest,
        ResumeRequest,
        Review,
        ReviewDecision,
        ReviewRecordInput,
        ReviewRecordResult,
        SendTouchInput,
        SendTouchResult,
    )
    from models.routing import (
        TaskAction,
        TaskActionResult,
    )
    from workflows.activity_calls import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, execute
    from workflows.checks import rejection
    from workflows.engine import LeadEngine
    from workflows.handoff import refusal as task_refusal
    from workflows.search_values import LeadSearchValues
    from workflows.task_dispatch import TaskDispatcher
    from workflows.touches import TouchOrder
    from workflows.wake_timer import WakeTimer

ARCHIVE_CHUNK = 300
INBOX_CHUNK = 200
CARRY_LIMIT = 500  # queued events carried into the next run at most
CHUNK_PAUSE = timedelta(milliseconds=1)
SEND_ATTEMPT_TIMEOUT = timedelta(minutes=2)
SEND_GIVE_UP_AFTER = timedelta(hours=6)
SEND_RETRY = RetryPolicy(
    maximum_interval=timedelta(minutes=5), non_retryable_error_types=["SmtpRefused"]
)
RELOAD_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["ProgramInvalid"])
ROUTING_PATCH = "routing-and-handoff"  # histories recorded before routing replay without it


@workflow.defn
class LeadWorkflow:
    @workflow.init
    def __init__(self, input: LeadWorkflowInput) -> None:
        self._state = input.state or LeadState(lead_id=input.lead_id)
        self._engine: LeadEngine | None = None
        self._search_attributes = False
        self._published: LeadSearchValues | None = None
        # Signals queue here and the run loop applies them in chunks, handing control back to
        # the server between chunks, so a burst never makes one activation too long.
        self._inbox: list[LeadEvent] = list(input.pending)
        self._wake_timer = WakeTimer()
        self._routing = True
        self._tasks = TaskDispatcher()

    @workflow.run
    async def run(self, input: LeadWorkflowInput) -> LeadWorkflowResult:
        # Decision numbers restart if a lead's workflow is ever started afresh: the chain
        # (first run id) keeps archived decisions of the two apart.
        self._state.chain = self._state.chain or workflow.info().first_execution_run_id
        self._routing = workflow.patched(ROUTING_PATCH)
        engine = await self._load_program()
        while not self._history_is_long():
            await self._sleep_until_due(engine)
            await self._drain_inbox()
            await self._do_what_is_due(engine)
            self._publish_search_attributes()
        await self._continue_as_new()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- messages --------------------------------------------------------------------------

    @workflow.signal(name=RECORD_EVENT)
    def record_event(self, event: LeadEvent) -> None:
        """Fire-and-forget delivery of one lead event (applied in order by the run loop)."""
        self._inbox.append(event)

    @workflow.update
    async def submit_event(self, event: LeadEvent) -> EventOutcome:
        """Deliver one event and answer with what it did (after the events queued before it)."""
        await workflow.wait_condition(lambda: self._engine is not None and not self._inbox)
        return await self._apply(event)

    @submit_event.validator
    def _validate_submit_event(self, event: LeadEvent) -> None:
        problem = rejection(event)
        if problem:
            raise ValueError(problem)

    @workflow.signal
    async def pause(self, request: PauseRequest) -> None:
        """Sales or ops pause promotional nurture; nothing pending is dropped."""
        engine = await self._ready()
        engine.pause(request, workflow.now())

    @workflow.signal
    async def resume(self, request: ResumeRequest) -> None:
        engine = await self._ready()
        engine.resume(request, workflow.now())

    @workflow.update
    async def decide_review(self, decision: ReviewDecision) -> ReviewRecordResult:
        """A compliance reviewer releases or blocks the held lead."""
        engine = await self._ready()
        review = self._state.review
        assert review is not None
        engine.decide_review(decision, workflow.now())
        result = await execute(ReviewActivities.close_review, self._review_record(review, decision))
        if self._routing:  # a request held back by the review goes on to its queue
            await self._tasks.dispatch_routes(engine)
        return result

    @decide_review.validator
    def _validate_decide_review(self, decision: ReviewDecision) -> None:
        review = self._state.review
        if review is None or review.review_id != decision.review_id:
            raise ValueError(f"review {decision.review_id} is not open for this lead")

    @workflow.update
    async def act_on_task(self, action: TaskAction) -> TaskActionResult:
        """Sales (or the owning team) accept, reject with a reason, or close a task."""
        engine = await self._ready()
        # A task the worker has just written may not be in the state yet: let it land first.
        await workflow.wait_condition(lambda: not self._state.route_orders and not self._tasks.busy)
        refusal = task_refusal(self._state, action)
        if refusal:
            raise ApplicationError(refusal, type="TaskNotOpen")
        status = engine.handoff.act(action, workflow.now())
        await self._tasks.dispatch_routes(engine)
        return TaskActionResult(
            task_id=action.task_id, status=status, stage=self._state.stage, track=self._state.track
        )

    @act_on_task.validator
    def _validate_act_on_task(self, action: TaskAction) -> None:
        landing = bool(self._state.route_orders) or self._tasks.busy
        refused = task_refusal(self._state, action)
        if refused and not landing:
            raise ValueError(refused)

    @workflow.query
    def state(self) -> LeadState:
        return self._state

    @workflow.query
    def decisions(self) -> DecisionLog:
        """Decisions of this run; earlier runs' decisions are archived in the database."""
        return DecisionLog(
            lead_id=self._state.lead_id, decisions=self._state.decisions, chain=self._state.chain
        )

    # -- the run loop's steps --------------------------------------------------------------

    async def _ready(self) -> LeadEngine:
        await workflow.wait_condition(lambda: self._engine is not None)
        assert self._engine is not None
        return self._engine

    async def _load_program(self) -> LeadEngine:
        """Load the program in force; a new version applies from this decision on."""
        try:
            loaded = await workflow.execute_activity_method(
                ProgramActivities.load_program,
                LoadProgramInput(
                    have_fingerprint=self._state.program_fingerprint if self._engine else None
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                # A lead with no program yet waits for a readable one; a running lead keeps
                # its last good program when an edit breaks the file.
                retry_policy=RELOAD_RETRY if self._engine else ACTIVITY_RETRY,
            )
        except ActivityError as err:
            if self._engine is None:
                raise
            self._engine.keep_last_good_program(workflow.now(), str(err.cause or err))
            return self._engine
        self._search_attributes = loaded.search_attributes
        if loaded.rejected and self._engine is not None:
            self._engine.keep_last_good_program(workflow.now(), loaded.rejected)
        if loaded.program is not None:  # None: unchanged
            if self._engine is None:
                self._engine = LeadEngine(
                    self._state, loaded.program, routing_enabled=self._routing
                )
            self._engine.adopt_program(loaded.program, loaded.fingerprint, workflow.now())
        assert self._engine is not None
        return self._engine

    async def _sleep_until_due(self, engine: LeadEngine) -> None:
        """Sleep until events arrive or the next touch, pause end, review or SLA deadline."""
        wake_at = engine.wake_at()
        await self._wake_timer.sleep(
            wake_at,
            interrupted=lambda: (
                bool(self._inbox)
                or engine.wake_at() != wake_at
                or self._search_attributes_stale()
                or self._history_is_long()
            ),
        )

    async def _drain_inbox(self) -> None:
        """Apply queued events in order, INBOX_CHUNK per activation."""
        while self._inbox:
            await self._apply_next_chunk()
            if self._inbox:
                await workflow.sleep(CHUNK_PAUSE)  # ends this activation: the rest comes next

    async def _apply_next_chunk(self) -> None:
        chunk, self._inbox = self._inbox[:INBOX_CHUNK], self._inbox[INBOX_CHUNK:]
        for event in chunk:
            await self._apply(event)

    async def _apply(self, event: LeadEvent) -> EventOutcome:
        engine = await self._ready()
        try:
            outcome = engine.apply_event(event, workflow.now())
        except Exception as err:  # noqa: BLE001 - a bad event must never stall the lead
            outcome = engine.reject(event, workflow.now(), f"could not apply: {type(err).__name__}")
        else:
            await self._record_review()
        if self._routing:  # what an event routed gets its task, even if it failed afterwards
            await self._tasks.dispatch_routes(engine)
        return outcome

    async def _do_what_is_due(self, engine: LeadEngine) -> None:
        """A pause that ends, a review that is late, tasks past their SLA, a touch."""
        now = workflow.now()
        engine.resume_if_due(now)
        if engine.escalate_overdue_review(now):
            await self._record_review(escalated=True)
        if self._routing:
            await self._tasks.escalate_breaches(engine)
        if self._state.next_touch_at is not None and self._state.next_touch_at <= now:
            await self._touch(await self._load_program())

    # -- compliance review -----------------------------------------------------------------

    async def _record_review(self, escalated: bool = False) -> None:
        """Write the open review item for reviewers (once, and again when it escalates)."""
        review = self._state.review
        if review is None or (review.recorded and not escalated):
            return
        review.recorded = True
        await execute(ReviewActivities.open_review, self._review_record(review, None))

    def _review_record(self, review: Review, decision: ReviewDecision | None) -> ReviewRecordInput:
        return ReviewRecordInput(
            lead_id=self._state.lead_id,
            review_id=review.review_id,
            reason=review.reason,
            trigger=review.trigger,
            opened_at=review.opened_at,
            due_at=review.due_at,
            escalated=review.escalated,
            decision=decision,
        )

    # -- touches ---------------------------------------------------------------------------

    async def _touch(self, engine: LeadEngine) -> None:
        order = engine.begin_touch(workflow.now())
        if order is None:
            return
        result = await self._send(order)
        engine.finish_touch(order, result, workflow.now())

    async def _send(self, order: TouchOrder) -> SendTouchResult:
        try:
            return await workflow.execute_activity_method(
                MessagingActivities.send_touch,
                SendTouchInput(
                    lead_id=self._state.lead_id,
                    touch_id=order.touch_id,
                    asset_id=order.asset_id,
                    trigger=f"timer:touch track={order.track}",
                    program_version=self._state.program_version or "",
                ),
                start_to_close_timeout=SEND_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=SEND_GIVE_UP_AFTER,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as err:
            # Refused for good, or the mail server unreachable for too long: this touch is not
            # sent, the lead carries on (and can continue as new) rather than retry forever.
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
            return SendTouchResult(
                status="blocked", asset_id=order.asset_id, reason=f"send failed: {cause}"
            )

    # -- search attributes -----------------------------------------------------------------

    def _search_attributes_stale(self) -> bool:
        if not self._search_attributes:
            return False
        current = LeadSearchValues.of(self._state)
        return self._published is None or current.differs_enough_from(self._published)

    def _publish_search_attributes(self) -> None:
        if not self._search_attributes_stale():
            return
        self._published = LeadSearchValues.of(self._state)
        workflow.upsert_search_attributes(self._published.updates())

    # -- long life -------------------------------------------------------------------------

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self._engine.program.long_life.max_history_events if self._engine else 1_500
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit

    async def _continue_as_new(self) -> None:
        """Archive this run's decisions and carry the state, and the events still queued, to
        a new run (so a burst does not keep one run growing)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        archived = await self._archive_decisions()
        while len(self._inbox) > CARRY_LIMIT:  # keep the carried payload small
            await self._apply_next_chunk()
            await workflow.sleep(CHUNK_PAUSE)
        await workflow.wait_condition(workflow.all_handlers_finished)
        state = self._state
        carried = state.model_copy(update={"runs": state.runs + 1})
        carried.decisions = [d for d in state.decisions if d.seq not in archived]
        workflow.continue_as_new(
            LeadWorkflowInput(lead_id=state.lead_id, state=carried, pending=self._inbox)
        )

    async def _archive_decisions(self) -> set[int]:
        """Write this run's decisions to the database, ARCHIVE_CHUNK per payload; their seqs."""
        state = self._state
        batch = list(state.decisions)
        for start in range(0, len(batch), ARCHIVE_CHUNK):
            await execute(
                DecisionArchive.archive_decisions,
                ArchiveDecisionsInput(
                    lead_id=state.lead_id,
                    chain=state.chain,
                    decisions=batch[start : start + ARCHIVE_CHUNK],
                ),
            )
        return {d.seq for d in batch}
