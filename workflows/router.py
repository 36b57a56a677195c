"""Routing one lead: which queue an event, a released request or an enriched order goes to,
and the guards every route passes before it becomes an order for a CRM task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.events import EventType, LeadEvent
from models.lead_state import Stage
from models.routing import (
    COMMERCIAL_KINDS,
    HANDOFF_KINDS,
    EnrichFactsResult,
    QueueKind,
    RouteOrder,
    RouteRule,
    Routing,
    queue_name,
)
from workflows import route_rules as rules
from workflows import scoring
from workflows.lead_core import LeadCore

E = EventType
SALES_STAGES = frozenset({Stage.HANDED_OFF, Stage.SALES_ACCEPTED, Stage.MEETING_SET})
BLOCKED_STAGES = frozenset({Stage.OPTED_OUT, Stage.COMPLIANCE_HOLD, Stage.DISQUALIFIED})
REQUESTS = frozenset(
    {E.MEETING_REQUESTED, E.DEMO_REQUESTED, E.SAMPLE_REQUESTED, E.PRICING_REQUESTED}
)


class Router:
    """Turns events and requests into route orders on the lead's state, logging each choice."""

    def __init__(self, engine: LeadCore) -> None:
        self.engine = engine

    @property
    def routing(self) -> Routing | None:
        return self.engine.program.routing

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
        properties = event.properties if isinstance(event.properties, dict) else {}
        if etype is E.SAMPLE_REQUESTED:
            self._sample_request(properties, now, trigger)
        ctx = self._context(etype.value, properties, routed)
        self._route(ctx, now, trigger, etype.value)
        if routed is not None and etype in REQUESTS:
            # One event may open a safety case (first) and a commercial task: the request is
            # routed as well, as if it had no text; its task shows the case reference.
            self._route(self._context(etype.value, properties, None), now, trigger, etype.value)

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

    def route_verified_sample(self, now: datetime, trigger: str) -> None:
        """A sample request whose licence a person verified is routed on to fulfilment."""
        ctx = self._context(E.SAMPLE_REQUESTED.value, {}, None, licence_verified=True)
        self._route(ctx, now, trigger, E.SAMPLE_REQUESTED.value)

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
