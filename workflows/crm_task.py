"""The CRM task a route order becomes: the behaviour it shows sales, its content and next
action, and the lead's own record of it once created."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.events import EventType, LeadEvent, page_address
from models.lead_state import LeadState
from models.program import Program
from models.routing import (
    ActivityItem,
    CrmTaskInput,
    CrmTaskResult,
    OpenTask,
    RouteOrder,
    Routing,
)
from workflows.checks import prop

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


def _page(url: object) -> str | None:
    """A page address without its query or fragment (they can carry identifiers)."""
    if not isinstance(url, str) or not url:
        return None
    return page_address(url)[:500]


def record_activity(
    state: LeadState,
    program: Program,
    etype: EventType,
    event: LeadEvent,
    routed: dict[str, Any] | None,
) -> None:
    """Keep what a task will show: recent structured behaviour and case references."""
    if routed is not None and routed.get("case_ref"):
        state.case_refs = [*state.case_refs, str(routed["case_ref"])][-CASE_REFS_KEPT:]
    if etype not in SHOWN or routed is not None or state.marketing_objection:
        return  # after an objection to direct marketing, no more profiling
    asset_id = prop(event, "asset_id")
    asset = program.asset(str(asset_id)) if asset_id else None
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


def task_input(
    state: LeadState,
    program: Program,
    order: RouteOrder,
    now: datetime,
    escalated_from: OpenTask | None = None,
) -> CrmTaskInput:
    """The CRM task for a route order: what sales sees, its SLA and, after a breach, whom
    it escalates to."""
    routing = program.routing
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
        program_version=program.version,
        opened_at=now,
        stage=state.stage,
        score=state.score,
        territory=state.facts.territory,
        country=state.facts.country,
        time_zone=state.facts.time_zone or program.cadence.default_time_zone,
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


def open_task(
    routing: Routing, order: RouteOrder, result: CrmTaskResult, now: datetime, escalations: int
) -> OpenTask:
    """The lead's record of a task the CRM now holds."""
    queue = routing.queue(order.queue)
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
