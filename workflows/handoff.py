"""The handoff desk for one lead, purely: it routes (through the router), records the CRM
tasks created, and applies what an accept, reject, close or SLA breach does. The workflow runs
the activities these decisions ask for."""

from __future__ import annotations

from datetime import datetime

from models.events import EventType
from models.lead_state import LeadState, Stage
from models.routing import (
    COMMERCIAL_KINDS,
    CrmTaskInput,
    CrmTaskResult,
    OpenTask,
    QueueKind,
    RouteOrder,
    Routing,
    TaskAction,
    TaskUpdateInput,
)
from workflows import crm_task, sla
from workflows.lead_core import LeadCore
from workflows.router import Router

E = EventType
SALES_RESPONSES = frozenset({E.SALES_CONTACTED, E.MEETING_BOOKED})
RECYCLE = "recycle."


def refusal(state: LeadState, action: TaskAction) -> str | None:
    """Why this action cannot apply to the lead's tasks now (None: it can)."""
    task = next((t for t in state.tasks if t.task_id == action.task_id), None)
    if task is None:
        return f"task {action.task_id} is not open for this lead"
    if action.action == "accept" and task.accepted:
        return f"task {action.task_id} is already accepted"
    if action.action == "close" and task.handoff and not task.accepted:
        return f"task {action.task_id} must be accepted before it is closed (or rejected)"
    return None


class HandoffDesk:
    """The routing half of the lead engine; shares its state, program and decision log."""

    def __init__(self, engine: LeadCore, router: Router) -> None:
        self.engine = engine
        self.router = router  # routes again when a person verifies a sample request's licence
        self._task_updates: list[TaskUpdateInput] = []  # status changes for the CRM tables

    @property
    def routing(self) -> Routing | None:
        return self.engine.program.routing

    # -- after each event ------------------------------------------------------------------

    def accept_on_sales_response(self, etype: EventType, now: datetime, trigger: str) -> None:
        """Sales reached the lead (contacted, meeting booked): the open handoff is accepted."""
        if self.routing is None or etype not in SALES_RESPONSES:
            return
        for task in self.engine.state.tasks:
            if task.handoff and not task.accepted:
                task.due_at, task.accepted = None, True
                self._task_updates.append(
                    TaskUpdateInput(task_id=task.task_id, status="accepted", actor=etype.value)
                )
                self.engine.decide(now, trigger, "sla.met", f"task {task.task_id}: {etype.value}")
                if self.engine.state.stage is Stage.HANDED_OFF:
                    self.engine.move_stage(now, trigger, Stage.SALES_ACCEPTED, "sla.met")

    # -- route orders -> CRM tasks -----------------------------------------------------------

    def task_input(
        self, order: RouteOrder, now: datetime, escalated_from: OpenTask | None = None
    ) -> CrmTaskInput:
        return crm_task.task_input(
            self.engine.state, self.engine.program, order, now, escalated_from
        )

    def record_task_created(
        self,
        order: RouteOrder,
        result: CrmTaskResult,
        now: datetime,
        escalations: int = 0,
    ) -> None:
        """The CRM task exists: its order becomes an open task, its queue may own the lead, and
        a handoff moves the stage."""
        state = self.engine.state
        if state.route_orders and state.route_orders[0] is order:
            state.route_orders.pop(0)
        state.tasks_total += 1
        if order.kind in COMMERCIAL_KINDS and order.rule_id != sla.ESCALATION:
            state.routes_total += 1
        assert self.routing is not None
        state.tasks.append(crm_task.open_task(self.routing, order, result, now, escalations))
        due = result.due_at.isoformat() if result.due_at else "no SLA"
        self.engine.decide(
            now,
            order.trigger,
            "handoff.task_created",
            f"task {result.task_id} in {order.queue}, due {due}",
            {"rule_id": order.rule_id, "rank": str(order.rank), "task_id": result.task_id},
        )
        if order.kind in COMMERCIAL_KINDS or order.kind is QueueKind.OPS_REVIEW:
            self._set_owner(order.queue, now, order.trigger, order.rule_id)
        if order.handoff and state.stage is Stage.MQL:
            self.engine.move_stage(now, order.trigger, Stage.HANDED_OFF, "handoff.task_created")
        self.engine.replan(now, order.trigger)  # nurture stops or resumes with the open tasks

    def _set_owner(
        self, queue: str | None, now: datetime, trigger: str, rule_id: str | None = None
    ) -> None:
        """Leads are owned by queues; every change of owner is a decision."""
        state = self.engine.state
        if state.owner_queue == queue:
            return
        before, state.owner_queue = state.owner_queue, queue
        inputs = {"from_queue": before or "", "to_queue": queue or ""}
        if rule_id is not None:
            inputs["rule_id"] = rule_id
        owner = f"owner {before or 'none'} -> {queue or 'none'}"
        self.engine.decide(now, trigger, "routing.owner", owner, inputs)

    def record_escalation(
        self,
        old: OpenTask,
        order: RouteOrder,
        result: CrmTaskResult,
        now: datetime,
    ) -> None:
        state = self.engine.state
        state.tasks = [t for t in state.tasks if t.task_id != old.task_id]
        self.record_task_created(order, result, now, escalations=old.escalations + 1)

    # -- what the owning team does ---------------------------------------------------------

    def task(self, task_id: str) -> OpenTask | None:
        return next((t for t in self.engine.state.tasks if t.task_id == task_id), None)

    def act(self, action: TaskAction, now: datetime) -> str:
        """Apply accept, reject or close and queue the task's status change for the CRM;
        returns the new status."""
        status = self._act(action, now)
        self._task_updates.append(
            TaskUpdateInput(
                task_id=action.task_id,
                status=status,
                actor=action.actor,
                reason=action.reason.value if action.reason else action.outcome,
                note=action.note,
            )
        )
        return status

    def take_task_updates(self) -> list[TaskUpdateInput]:
        """The task status changes not yet written to the CRM tables (and forget them)."""
        updates, self._task_updates = self._task_updates, []
        return updates

    def _act(self, action: TaskAction, now: datetime) -> str:
        task = self.task(action.task_id)
        assert task is not None
        trigger = f"update:act_on_task:{action.task_id}"
        inputs = {"actor": action.actor, "queue": task.queue, "note": action.note or ""}
        if action.action == "accept":
            return self._accept(task, now, trigger, inputs)
        if action.action == "reject":
            assert action.reason is not None
            inputs["reason"] = action.reason.value
            self.engine.decide(
                now, trigger, "task.rejected", f"task {task.task_id}: {action.reason.value}", inputs
            )
            self._close(task, now, trigger)
            if task.handoff:
                self._recycle(action.reason.value, now, trigger)
            else:
                if task.kind is QueueKind.LICENCE_VERIFICATION:
                    self.engine.state.sample_status = "not_verified"
                self._request_done(task, now, trigger)
            return "rejected"
        inputs["outcome"] = action.outcome or ""
        self.engine.decide(
            now, trigger, "task.closed", f"{task.task_id}: {action.outcome or 'closed'}", inputs
        )
        self._close(task, now, trigger)
        if task.handoff:
            self.engine.state.routes_total = 0  # this handoff ran its course
            self.engine.move_stage(now, trigger, Stage.CLOSED, "task.closed")
        else:
            self._request_done(task, now, trigger)
        return "closed"

    def _accept(self, task: OpenTask, now: datetime, trigger: str, inputs: dict[str, str]) -> str:
        state = self.engine.state
        self.engine.decide(now, trigger, "task.accepted", f"task {task.task_id}", inputs)
        task.due_at, task.accepted = None, True
        if task.handoff:
            state.routes_total = 0  # somebody owns it now: the bouncing has stopped
            if state.stage is Stage.HANDED_OFF:
                self.engine.move_stage(now, trigger, Stage.SALES_ACCEPTED, "task.accepted")
            return "accepted"
        self._close(task, now, trigger)
        if task.kind is QueueKind.LICENCE_VERIFICATION:
            state.sample_status = "verified"
            verified_by = f"licence verified by {inputs['actor']}"
            self.engine.decide(now, trigger, "sample.verified", verified_by)
            self.router.route_verified_sample(now, trigger)
        return "accepted"

    def _request_done(self, task: OpenTask, now: datetime, trigger: str) -> None:
        """A request handled outside sales (a sample) that held nurture back: lift the hold
        once nothing else holds it."""
        routing, state = self.routing, self.engine.state
        assert routing is not None
        if task.stops_nurture and not any(t.stops_nurture for t in state.tasks):
            self.engine.lift(now, trigger, routing.recycle_clears, f"task {task.task_id} done")
            self.engine.replan(now, trigger)

    def _close(self, task: OpenTask, now: datetime, trigger: str) -> None:
        state = self.engine.state
        state.tasks = [t for t in state.tasks if t.task_id != task.task_id]
        if state.owner_queue == task.queue and not any(t.queue == task.queue for t in state.tasks):
            self._set_owner(None, now, trigger)
        self.engine.replan(now, trigger)  # nurture stops or resumes with the open tasks

    def _recycle(self, reason: str, now: datetime, trigger: str) -> None:
        """Back to nurture on the reason's track; each reason is counted, and only behaviour
        after the recycle makes an MQL again."""
        engine, state, routing = self.engine, self.engine.state, self.routing
        assert routing is not None
        state.reject_counts[reason] = state.reject_counts.get(reason, 0) + 1
        state.recycled_at = now
        engine.move_stage(now, trigger, Stage.RECYCLED, f"recycle.{reason}")
        earlier = [r for r in state.stops if r.startswith(RECYCLE)]  # a newer reason decides
        engine.lift(now, trigger, [*routing.recycle_clears, *earlier], f"recycled: {reason}")
        track = routing.recycle_tracks.get(reason, engine.program.tracks.default)  # type: ignore[call-overload]
        if track is None:
            engine.stop(now, trigger, f"{RECYCLE}{reason}", f"rejected by sales: {reason}")
            return
        before, state.track, state.next_asset = state.track, track, None
        engine.decide(now, trigger, f"{RECYCLE}{reason}", f"track {before or 'none'} -> {track}")
        state.planned_touch_at = now + engine.program.cadence.first_touch_delay
        engine.replan(now, trigger)
