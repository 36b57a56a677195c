"""Routing and handoff decisions for one lead, purely: which queue, which CRM task, what an
accept, reject or SLA breach does. The workflow runs the activities these decisions ask for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.events import EventType, LeadEvent
from models.lead_state import LeadState, Stage
from models.routing import (
    COMMERCIAL_KINDS,
    HANDOFF_KINDS,
    ActivityItem,
    CrmTaskInput,
    CrmTaskResult,
    EnrichFactsResult,
    OpenTask,
    QueueKind,
    RouteOrder,
    RouteRule,
    Routing,
    TaskAction,
    TaskUpdateInput,
    queue_name,
)
from workflows import route_rules as rules
from workflows import scoring
from workflows.checks import prop
from workflows.lead_core import LeadCore

E = EventType
ACTIVITY_KEPT = 20
CASE_REFS_KEPT = 20
# Behaviour a task shows sales (structured properties only, never free text).
SHOWN = frozenset(
    {
        E.PAGE_VIEWED,
        E.CONTENT_DOWNLOADED,
        E.EMAIL_CLICKED,
        E.WEBINAR_REGISTERED,
        E.WEBINAR_ATTENDED,
        E.EVENT_ATTENDED,
        E.FORM_SUBMITTED,
        E.INFO_REQUESTED,
        E.MEETING_REQUESTED,
        E.DEMO_REQUESTED,
        E.SAMPLE_REQUESTED,
        E.PRICING_REQUESTED,
    }
)
SALES_STAGES = frozenset({Stage.HANDED_OFF, Stage.SALES_ACCEPTED, Stage.MEETING_SET})
BLOCKED_STAGES = frozenset({Stage.OPTED_OUT, Stage.COMPLIANCE_HOLD, Stage.DISQUALIFIED})
SALES_RESPONSES = frozenset({E.SALES_CONTACTED, E.MEETING_BOOKED})
ESCALATION = "sla.escalation"
REQUESTS = frozenset(
    {E.MEETING_REQUESTED, E.DEMO_REQUESTED, E.SAMPLE_REQUESTED, E.PRICING_REQUESTED}
)
RECYCLE = "recycle."


def _page(url: object) -> str | None:
    """A page address without its query or fragment (they can carry identifiers)."""
    if not isinstance(url, str) or not url:
        return None
    return url.split("?", 1)[0].split("#", 1)[0][:500]


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

    def __init__(self, engine: LeadCore) -> None:
        self.engine = engine
        self._task_updates: list[TaskUpdateInput] = []  # status changes for the CRM tables

    @property
    def routing(self) -> Routing | None:
        return self.engine.program.routing

    # -- after each event ------------------------------------------------------------------

    def record_activity(
        self, etype: EventType, event: LeadEvent, routed: dict[str, Any] | None
    ) -> None:
        """Keep what a task will show: recent structured behaviour and case references."""
        state = self.engine.state
        if routed is not None and routed.get("case_ref"):
            state.case_refs = [*state.case_refs, str(routed["case_ref"])][-CASE_REFS_KEPT:]
        if etype not in SHOWN or routed is not None or state.marketing_objection:
            return  # after an objection to direct marketing, no more profiling
        asset_id = prop(event, "asset_id")
        asset = self.engine.program.asset(str(asset_id)) if asset_id else None
        title = asset.title if asset else prop(event, "title")
        item = ActivityItem(
            type=etype.value,
            at=event.occurred_at,
            asset_id=str(asset_id) if asset_id else None,
            title=str(title)[:300] if title else None,
            url=_page(prop(event, "url")),
            event_name=str(prop(event, "event_name"))[:300] if prop(event, "event_name") else None,
        )
        state.recent_activity = [*state.recent_activity, item][-ACTIVITY_KEPT:]

    def route_event(
        self,
        etype: EventType,
        event: LeadEvent,
        routed: dict[str, Any] | None,
        now: datetime,
        trigger: str,
    ) -> None:
        """Run the ordered rules for this event; a match becomes a route order."""
        if self.routing is None:
            return
        if etype in SALES_RESPONSES:
            self._responded(etype, now, trigger)
        properties = event.properties if isinstance(event.properties, dict) else {}
        if etype is E.SAMPLE_REQUESTED:
            self._sample_request(properties, now, trigger)
        ctx = self._context(etype.value, properties, routed)
        self._route(ctx, now, trigger, etype.value)
        if routed is not None and etype in REQUESTS:
            # One event may open a safety case (first) and a commercial task: the request is
            # routed as well, as if it had no text; its task shows the case reference.
            self._route(self._context(etype.value, properties, None), now, trigger, etype.value)

    def _context(
        self,
        event_type: str | None,
        properties: dict[str, Any],
        routed: dict[str, Any] | None,
        licence_verified: bool = False,
    ) -> rules.RouteContext:
        state, program = self.engine.state, self.engine.program
        assert self.routing is not None
        return rules.RouteContext(
            event_type=event_type,
            stage=state.stage,
            facts=state.facts,
            score=state.score,
            properties=properties,
            screening_route=str(routed.get("route")) if routed else None,
            high_value_account=rules.high_value(self.routing, state.facts),
            sample_eligible=licence_verified or not rules.sample_problems(state.facts, properties),
            fit_ok=not scoring.disqualifiers(state.facts, program.scoring),
        )

    def _sample_request(self, properties: dict[str, Any], now: datetime, trigger: str) -> None:
        state = self.engine.state
        problems = rules.sample_problems(state.facts, properties)
        if problems:
            state.sample_status = "verification_pending"
            self.engine.decide(
                now,
                trigger,
                "sample.verification",
                f"waits for verification: {'; '.join(problems)}",
            )
        else:
            state.sample_status = "verified"
            self.engine.decide(now, trigger, "sample.eligible", "valid NPI and signed request")

    def _route(
        self, ctx: rules.RouteContext, now: datetime, trigger: str, request: str | None
    ) -> None:
        routing, state = self.routing, self.engine.state
        assert routing is not None
        rule = rules.first_match(routing, ctx, skip=set(state.rules_used))
        if rule is None:
            return
        queue_id = queue_name(rule.queue, state.facts.territory)
        queue = routing.queue(queue_id)
        needs_enrichment = "{territory}" in rule.queue and not state.facts.territory
        order = RouteOrder(
            rule_id=rule.id,
            rank=rule.rank,
            queue=queue_id,
            kind=queue.kind if queue else QueueKind.SALES,  # a territory queue, once known
            reason=f"{rule.id} (rank {rule.rank}) on {request or 'state'}",
            trigger=trigger,
            request=request,
            next_action=rule.next_action,
            needs_enrichment=needs_enrichment,
        )
        inputs = self._inputs(rule, request)
        if not self._admit(order, now, inputs):
            return
        if rule.once:
            state.rules_used.append(rule.id)
        inputs["to_queue"] = order.queue if not needs_enrichment else "(after enrichment)"
        self.engine.decide(now, trigger, rule.id, f"route to {inputs['to_queue']}", inputs)
        state.route_orders.append(order)

    def _admit(self, order: RouteOrder, now: datetime, inputs: dict[str, str]) -> bool:
        """The guards every route passes, again after enrichment has named the real queue:
        never commercial for those it must not reach, no second task in a queue, and a lead
        that keeps bouncing goes to ops review instead."""
        if self._refused(order, now, inputs):
            return False
        self._stop_bouncing(order, now, inputs)
        if self._already_open(order, now):
            return False
        order.handoff = order.kind in HANDOFF_KINDS
        return True

    def _refused(self, order: RouteOrder, now: datetime, inputs: dict[str, str]) -> bool:
        """Nothing commercial for a lead it must not reach, no handoff while sales has it."""
        state, trigger = self.engine.state, order.trigger
        blocked = self._blocked(order.kind, state.stage)
        if blocked:
            self.engine.decide(
                now, trigger, "routing.blocked", f"{order.rule_id}: {blocked}", inputs
            )
            if state.stage is Stage.COMPLIANCE_HOLD and order.request:
                state.held_request = order.request  # routed again if compliance releases
            return True
        if order.kind in HANDOFF_KINDS and state.stage in SALES_STAGES:
            self.engine.decide(
                now,
                trigger,
                "routing.owned",
                f"{order.rule_id}: already with {state.owner_queue}",
                inputs,
            )
            return True
        return False

    def _stop_bouncing(self, order: RouteOrder, now: datetime, inputs: dict[str, str]) -> None:
        """A lead re-routed more than `max_reroutes` times goes to ops review instead."""
        routing, state = self.routing, self.engine.state
        assert routing is not None
        if order.kind in COMMERCIAL_KINDS and state.routes_total > routing.max_reroutes:
            self.engine.decide(
                now,
                order.trigger,
                "routing.loop_safeguard",
                f"{order.rule_id}: re-routed {state.routes_total} times; "
                f"to {routing.ops_review_queue}",
                inputs,
            )
            order.queue, order.kind = routing.ops_review_queue, QueueKind.OPS_REVIEW
            order.needs_enrichment = False

    def _already_open(self, order: RouteOrder, now: datetime) -> bool:
        """One task per queue at a time (counting orders not yet written)."""
        state = self.engine.state
        if not any(t.queue == order.queue for t in state.tasks) and not any(
            o.queue == order.queue for o in state.route_orders if o is not order
        ):
            return False
        self.engine.decide(
            now,
            order.trigger,
            "routing.already_open",
            f"{order.rule_id}: a task is open in {order.queue}",
        )
        return True

    def _inputs(self, rule: RouteRule, request: str | None) -> dict[str, str]:
        state = self.engine.state
        return {
            "rank": str(rule.rank),
            "request": request or "",
            "stage": state.stage.value,
            "fit": str(state.score.fit),
            "engagement": f"{state.score.engagement:.1f}",
            "territory": state.facts.territory or "",
            "from_queue": state.owner_queue or "",
        }

    def _blocked(self, kind: QueueKind, stage: Stage) -> str | None:
        if kind not in COMMERCIAL_KINDS:
            return None
        state, program = self.engine.state, self.engine.program
        disqualified = scoring.disqualifiers(state.facts, program.scoring)
        if disqualified:
            return f"not for sales: {', '.join(disqualified)}"
        if stage in BLOCKED_STAGES:
            return f"not for sales while {stage.value}"
        if state.marketing_objection:
            return "not for sales: the lead objected to marketing"
        return None

    def _responded(self, etype: EventType, now: datetime, trigger: str) -> None:
        """Sales reached the lead (contacted, meeting booked): the open handoff is accepted."""
        for task in self.engine.state.tasks:
            if task.handoff and not task.accepted:
                task.due_at, task.accepted = None, True
                self._task_updates.append(
                    TaskUpdateInput(task_id=task.task_id, status="accepted", actor=etype.value)
                )
                self.engine.decide(now, trigger, "sla.met", f"task {task.task_id}: {etype.value}")
                if self.engine.state.stage is Stage.HANDED_OFF:
                    self.engine.move_stage(now, trigger, Stage.SALES_ACCEPTED, "sla.met")

    def route_held_request(self, released: bool, now: datetime, trigger: str) -> None:
        """A request held for compliance review is routed once released (dropped if blocked)."""
        state = self.engine.state
        request, state.held_request = state.held_request, None
        if not (released and request and self.routing):
            return
        etype = E(request)
        self.engine.decide(now, trigger, "routing.released", f"routing the held {request}")
        self.engine.apply_intent(etype, now, trigger)
        self._route(self._context(request, {}, None), now, trigger, request)

    # -- route orders -> CRM tasks -----------------------------------------------------------

    def record_enrichment(
        self, order: RouteOrder, result: EnrichFactsResult, now: datetime
    ) -> None:
        """Enrichment ran again: route to the territory queue, or else to the data steward."""
        state, routing = self.engine.state, self.routing
        assert routing is not None
        order.needs_enrichment = False
        trigger = order.trigger
        if result.territory:
            state.facts = state.facts.model_copy(update={"territory": result.territory})
            rule = next((r for r in routing.rules if r.id == order.rule_id), None)
            target = queue_name(rule.queue if rule else order.queue, result.territory)
            queue = routing.queue(target)
            if queue is not None:
                order.queue, order.kind = target, queue.kind
                self.engine.decide(now, trigger, "routing.enriched", f"route to {target}")
                self._admit_enriched(order, now)
                return
        order.queue, order.kind = routing.data_steward_queue, QueueKind.DATA_STEWARD
        missing = ", ".join(result.missing_routing_fields) or "territory"
        self.engine.decide(
            now,
            trigger,
            "routing.low_confidence",
            f"still missing {missing} after enrichment: to {order.queue}",
        )
        self._admit_enriched(order, now)

    def _admit_enriched(self, order: RouteOrder, now: datetime) -> None:
        state = self.engine.state
        if not self._admit(order, now, {"rule_id": order.rule_id}):
            state.route_orders = [o for o in state.route_orders if o is not order]

    def task_input(
        self, order: RouteOrder, now: datetime, escalated_from: OpenTask | None = None
    ) -> CrmTaskInput:
        state, routing = self.engine.state, self.routing
        assert routing is not None
        queue = routing.queue(order.queue)
        old_queue = routing.queue(escalated_from.queue) if escalated_from else None
        return CrmTaskInput(
            task_id=f"{state.lead_id}-{(state.chain or 'c')[:8]}-t{state.tasks_total + 1}",
            lead_id=state.lead_id,
            queue=order.queue,
            kind=order.kind,
            rule_id=order.rule_id,
            rank=order.rank,
            reason=order.reason,
            request=order.request,
            program_version=self.engine.program.version,
            opened_at=now,
            stage=state.stage,
            score=state.score,
            territory=state.facts.territory,
            country=state.facts.country,
            time_zone=state.facts.time_zone or self.engine.program.cadence.default_time_zone,
            recent_activity=state.recent_activity,
            case_refs=state.case_refs,
            sample={"status": state.sample_status or "not requested"},
            next_action=order.next_action,
            sla=queue.sla if queue else None,
            hours=queue.hours if queue else None,
            escalation_manager=old_queue.manager_email if old_queue else None,
            escalated_from=escalated_from.task_id if escalated_from else None,
            escalation_reason=(
                f"no response in {escalated_from.queue} by {escalated_from.due_at.isoformat()}"
                if escalated_from and escalated_from.due_at
                else None
            ),
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
        if order.kind in COMMERCIAL_KINDS and order.rule_id != ESCALATION:
            state.routes_total += 1
        state.tasks.append(self._open_task(order, result, now, escalations))
        due = result.due_at.isoformat() if result.due_at else "no SLA"
        self.engine.decide(
            now,
            order.trigger,
            "handoff.task_created",
            f"task {result.task_id} in {order.queue}, due {due}",
            {"rule_id": order.rule_id, "rank": str(order.rank), "task_id": result.task_id},
        )
        if order.kind in COMMERCIAL_KINDS or order.kind is QueueKind.OPS_REVIEW:
            self._own(order.queue, now, order.trigger, order.rule_id)
        if order.handoff and state.stage is Stage.MQL:
            self.engine.move_stage(now, order.trigger, Stage.HANDED_OFF, "handoff.task_created")
        self._nurture_follows_tasks(now, order.trigger)

    def _open_task(
        self, order: RouteOrder, result: CrmTaskResult, now: datetime, escalations: int
    ) -> OpenTask:
        assert self.routing is not None
        queue = self.routing.queue(order.queue)
        return OpenTask(
            task_id=result.task_id,
            queue=order.queue,
            kind=order.kind,
            rule_id=order.rule_id,
            opened_at=now,
            due_at=result.due_at,
            escalations=escalations,
            stops_nurture=bool(queue and queue.stops_nurture) or order.handoff,
            request=order.request,
            handoff=order.handoff,
        )

    def _own(self, queue: str, now: datetime, trigger: str, rule_id: str) -> None:
        state = self.engine.state
        if state.owner_queue == queue:
            return
        before, state.owner_queue = state.owner_queue, queue
        self.engine.decide(
            now,
            trigger,
            "routing.owner",
            f"owner {before or 'none'} -> {queue}",
            {"from_queue": before or "", "to_queue": queue, "rule_id": rule_id},
        )

    def _nurture_follows_tasks(self, now: datetime, trigger: str) -> None:
        self.engine.replan(now, trigger)  # nurture stops or resumes with the open tasks

    # -- SLA -------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        due = [t.due_at for t in self.engine.state.tasks if t.due_at is not None]
        return min(due) if due else None

    def record_breaches(self, now: datetime) -> list[tuple[OpenTask, RouteOrder]]:
        """Tasks past their SLA, each with where it goes: the queue's escalation queue first,
        ops review after that."""
        if self.routing is None:
            return []
        found = []
        for task in self.engine.state.tasks:
            if task.due_at is not None and task.due_at <= now:
                order = self._breached(task, now)
                if order is not None:
                    found.append((task, order))
        return found

    def _breached(self, task: OpenTask, now: datetime) -> RouteOrder | None:
        """Log the breach; where the task goes next (None: it is in ops review already)."""
        routing, due_at = self.routing, task.due_at
        assert routing is not None and due_at is not None
        queue = routing.queue(task.queue)
        if task.escalations == 0 and queue is not None and queue.escalation_queue:
            target = queue.escalation_queue
        elif task.queue != routing.ops_review_queue:
            target = routing.ops_review_queue
        else:
            task.due_at = None
            self.engine.decide(now, "timer:sla", "sla.breached", f"task {task.task_id}")
            return None
        target_queue = routing.queue(target)
        self.engine.decide(
            now,
            "timer:sla",
            "sla.breached",
            f"task {task.task_id} in {task.queue}: escalated to {target}",
            {"due_at": due_at.isoformat(), "escalations": str(task.escalations + 1)},
        )
        return RouteOrder(
            rule_id=ESCALATION,
            rank=0,
            queue=target,
            kind=target_queue.kind if target_queue else QueueKind.OPS_REVIEW,
            reason=f"SLA breached in {task.queue}",
            trigger="timer:sla",
            request=task.request,
            handoff=task.handoff,  # still the same handoff, whoever's queue it is in now
        )

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
            ctx = self._context(E.SAMPLE_REQUESTED.value, {}, None, licence_verified=True)
            self._route(ctx, now, trigger, E.SAMPLE_REQUESTED.value)
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
            before, state.owner_queue = state.owner_queue, None
            self.engine.decide(
                now,
                trigger,
                "routing.owner",
                f"owner {before} -> none",
                {"from_queue": before or "", "to_queue": ""},
            )
        self._nurture_follows_tasks(now, trigger)

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
