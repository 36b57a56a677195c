"""Routing and sales handoff on the time-skipping server with the sample program: the right
queue in one step, a CRM task with the context sales needs, SLAs in business hours with
escalation, and accept / reject / recycle."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from models.lead_state import Stage
from models.queries import task_summary
from models.routing import RejectReason, TaskAction, TaskActionResult
from models.tables import CrmTask
from starter.smtp_sink import SmtpSink
from tests.helpers.journey import Journey, NewJourney
from tests.helpers.polling import eventually
from workflows.lead import LeadWorkflow

CHICAGO = ZoneInfo("America/Chicago")  # the sample clinician's zone (ZIP 60611: US-MIDWEST)


def tasks(db: Engine, **where: Any) -> list[CrmTask]:
    with Session(db) as session:
        query = select(CrmTask).order_by(col(CrmTask.created_at))
        for name, value in where.items():
            query = query.where(getattr(CrmTask, name) == value)
        return list(session.exec(query).all())


async def task_in(db: Engine, queue: str) -> CrmTask:
    async def found() -> CrmTask | None:
        rows = tasks(db, queue=queue)
        return rows[-1] if rows else None

    return await eventually(found)  # type: ignore[no-any-return]


async def act(lead: Journey, task_id: str, action: str, **fields: Any) -> TaskActionResult:
    request = TaskAction(task_id=task_id, action=action, actor="rep.key", **fields)  # type: ignore[arg-type]
    return await lead.handle.execute_update(LeadWorkflow.act_on_task, request)  # type: ignore[no-any-return]


def rules_fired(decisions: list[Any], prefix: str = "route.") -> list[str]:
    return [d.rule_id for d in decisions if d.rule_id.startswith(prefix)]


async def test_meeting_request_stops_promotion_and_lands_in_the_territory_queue_with_context(
    lead: Journey, sqlite_db: Engine
) -> None:
    """The seed example: pages viewed, an asset downloaded and sent, then a meeting request."""
    await lead.event(
        "page_viewed", url="https://hcp.corvanta.example/moa", topics=["heart_failure"]
    )
    await lead.event("page_viewed", url="https://hcp.corvanta.example/endpoints")
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(0.01)  # the prompt first touch goes out
    [sent] = lead.assets_emailed()
    await lead.event("meeting_requested", product="Corvanta", comment="Please call me")
    state = await lead.until(lambda s: s.owner_queue is not None)
    task = await task_in(sqlite_db, "sales-us-midwest")
    await lead.days(30)
    later = await lead.state()

    assert state.stage is Stage.HANDED_OFF and state.open_handoff
    context = json.loads(task.context)
    assert task.status == "open" and task.rule_id == "route.meeting_request"
    assert context["lead"]["email"] == lead.profile["email"]
    assert context["why"]["program_version"] == "2026.11.1"
    assert context["score"]["fit_breakdown"]
    pages = [a["url"] for a in context["recent_activity"] if a["type"] == "page_viewed"]
    assert pages == ["https://hcp.corvanta.example/endpoints", "https://hcp.corvanta.example/moa"]
    [download] = [a for a in context["recent_activity"] if a["type"] == "content_downloaded"]
    assert download["asset_id"] == "CVT-EVD-200" and download["asset_version"]
    assert download["title"] == "CORVA-HF evidence brochure"
    assert context["last_asset_sent"]["asset_id"] == sent
    assert context["last_asset_sent"]["asset_version"]
    assert context["consent"]["email"].startswith("no_objection")
    assert context["next_action"][0] == "Call within the hour"
    assert context["sla_due_at"] == task.due_at.isoformat()  # type: ignore[union-attr]
    assert "Please call me" not in task.context  # free text never travels to sales
    assert lead.assets_emailed() == [sent]  # no promotional email while the handoff is open
    assert later.next_touch_at is None
    [routed] = [d for d in state.decisions if d.rule_id == "route.meeting_request"]
    assert routed.inputs["rank"] == "70" and routed.inputs["to_queue"] == "sales-us-midwest"
    owner = [d for d in state.decisions if d.rule_id == "routing.owner"]
    assert owner[-1].inputs == {
        "from_queue": "",
        "to_queue": "sales-us-midwest",
        "rule_id": "route.meeting_request",
    }


async def test_medical_trial_and_sample_requests_never_reach_sales(
    new_journey: NewJourney, sqlite_db: Engine
) -> None:
    medical = new_journey(email="m.okafor@rush.example")
    await medical.event("medical_question", text="What is the dose in renal impairment?")
    mi_task = await task_in(sqlite_db, "medical-information")

    trial = new_journey(email="l.chen@uic.example")
    await trial.event("trial_question", text="Is my patient eligible for CORVA-HF?")
    trial_task = await task_in(sqlite_db, "clinical-trial-intake")

    # A CRM id makes the HCP verified, but without an NPI no sample may ship (DOMAIN 22).
    sample = new_journey(email="p.shah@northwestern.example", npi=None, crm_id="CRM-88121")
    await sample.event("sample_requested", product="Corvanta", signed_request=True)
    verification = await task_in(sqlite_db, "licence-verification")
    sample_state = await sample.state()
    medical_state = await medical.state()

    assert mi_task.lead_id == medical.lead_id
    # The screen reads the question as medical (rank 30); the event type alone is rank 40.
    assert mi_task.rule_id in ("route.medical_screened", "route.medical_question")
    assert trial_task.lead_id == trial.lead_id and trial_task.rule_id == "route.trial_eligibility"
    assert verification.lead_id == sample.lead_id
    assert sample_state.sample_status == "verification_pending"
    waits = [d for d in sample_state.decisions if d.rule_id == "sample.verification"]
    assert waits and "no valid NPI" in waits[0].outcome
    sales_like = [t for t in tasks(sqlite_db) if t.kind in ("sales", "sdr", "sample_operations")]
    assert sales_like == []
    assert medical_state.owner_queue is None  # Medical Information does not own a lead
    assert "renal" not in mi_task.context


async def test_licence_verified_then_sample_operations(lead: Journey, sqlite_db: Engine) -> None:
    await lead.event("sample_requested", product="Corvanta")  # valid NPI, no signed request
    verification = await task_in(sqlite_db, "licence-verification")
    assert tasks(sqlite_db, queue="sample-operations") == []
    await act(lead, verification.task_id, "accept")
    fulfil = await task_in(sqlite_db, "sample-operations")
    state = await lead.state()

    assert state.sample_status == "verified"
    assert fulfil.lead_id == lead.lead_id
    [checked] = tasks(sqlite_db, task_id=verification.task_id)
    assert checked.status == "accepted" and checked.actor == "rep.key"


async def test_first_matching_rule_wins_and_is_logged(
    new_journey: NewJourney, sqlite_db: Engine
) -> None:
    """A high-value account asking for a meeting matches the meeting rule (rank 70) and the
    key-account rule (rank 90): the meeting rule wins."""
    lead = new_journey(organization="Northside Cardiology Group")
    await lead.event("meeting_requested", product="Corvanta")
    await task_in(sqlite_db, "sales-us-midwest")
    state = await lead.until(lambda s: not s.route_orders)

    assert rules_fired(state.decisions) == ["route.meeting_request"]
    assert tasks(sqlite_db, queue="key-accounts") == []


async def test_consumers_are_never_routed_to_sales(
    new_journey: NewJourney, sqlite_db: Engine
) -> None:
    lead = new_journey(email="pat.jones@mail.example", role="patient", npi=None)
    await lead.event("meeting_requested", product="Corvanta")
    state = await lead.state()

    assert tasks(sqlite_db) == []
    blocked = [d for d in state.decisions if d.rule_id == "routing.blocked"]
    assert blocked and "not for sales" in blocked[0].outcome


async def test_rejected_lead_is_recycled_and_nurture_resumes_on_the_reason_track(
    lead: Journey, sqlite_db: Engine
) -> None:
    await lead.event("meeting_requested", product="Corvanta")
    task = await task_in(sqlite_db, "sales-us-midwest")
    result = await act(lead, task.task_id, "reject", reason=RejectReason.NOT_READY)
    await lead.days(20)
    state = await lead.state()

    assert result.status == "rejected" and result.stage is Stage.RECYCLED
    assert result.track == "evidence-first"
    [rejected] = [d for d in state.decisions if d.rule_id == "task.rejected"]
    assert rejected.inputs["reason"] == "not_ready" and rejected.inputs["actor"] == "rep.key"
    assert state.reject_counts == {"not_ready": 1}
    assert "stop.request_open" not in state.stops
    assert state.owner_queue is None and not state.open_handoff
    # Emails resume on the new track (evidence-first: CVT-EVD-210, then CVT-EVT-300).
    assert lead.assets_emailed()[:2] == ["CVT-EVD-210", "CVT-EVT-300"]
    [row] = tasks(sqlite_db, task_id=task.task_id)
    assert row.status == "rejected" and row.resolution == "not_ready"


@pytest.mark.program(change=lambda p: p["routing"].update(max_reroutes=2))
async def test_loop_safeguard_sends_a_bouncing_lead_to_ops_review(
    lead: Journey, sqlite_db: Engine
) -> None:
    for _ in range(3):  # the first routing and two re-routes are allowed
        await lead.event("meeting_requested", product="Corvanta")
        [task] = await eventually(lambda: tasks(sqlite_db, status="open"))
        await act(lead, task.task_id, "reject", reason=RejectReason.NOT_READY)
    await lead.event("meeting_requested", product="Corvanta")
    review = await task_in(sqlite_db, "ops-review")
    await lead.event("page_viewed", topics=["dosing"])
    await lead.event("demo_requested", product="Corvanta")
    state = await lead.state()

    assert review.lead_id == lead.lead_id
    assert len(tasks(sqlite_db, queue="ops-review")) == 1  # not one more per event
    assert len(tasks(sqlite_db, queue="sales-us-midwest")) == 3
    counted = task_summary(sqlite_db)
    assert counted["reject_reasons"] == {"not_ready": 3}
    assert counted["by_queue"]["ops-review"] == {"open": 1}
    assert any(d.rule_id == "routing.loop_safeguard" for d in state.decisions)


def _friday_before_a_monday_holiday(after: datetime) -> date:
    """The first Friday after `after` whose Monday is a US public holiday."""
    calendar = holidays.country_holidays("US")
    day = after.astimezone(CHICAGO).date() + timedelta(days=1)
    while not (day.weekday() == 4 and day + timedelta(days=3) in calendar):
        day += timedelta(days=1)
    return day


async def _skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now
    await env.sleep(moment - now)


async def test_sla_breach_across_a_weekend_and_a_holiday_escalates_then_goes_to_ops(
    env: WorkflowEnvironment, lead: Journey, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    """Friday 16:30 + one business hour, with Monday a public holiday: due Tuesday 09:30."""
    friday = _friday_before_a_monday_holiday(await env.get_current_time())
    tuesday = friday + timedelta(days=4)
    await _skip_to(env, datetime.combine(friday, time(16, 30), CHICAGO))
    await lead.event("meeting_requested", product="Corvanta")
    task = await task_in(sqlite_db, "sales-us-midwest")
    due = datetime.combine(tuesday, time(9, 30), CHICAGO).astimezone(UTC)
    assert task.due_at is not None and abs(task.due_at - due) < timedelta(minutes=1)

    await _skip_to(env, datetime.combine(tuesday, time(9, 25), CHICAGO))
    assert [t.status for t in tasks(sqlite_db)] == ["open"]  # not yet breached

    await _skip_to(env, datetime.combine(tuesday, time(9, 35), CHICAGO))
    escalation = await task_in(sqlite_db, "sales-managers")

    def manager_mail() -> list[Any]:
        return [m for m in smtp_server.messages if m["To"] == "rsd-midwest@northwind-tx.example"]

    [alert] = await eventually(manager_mail)
    # The managers' queue has two business hours: a second breach goes to ops review.
    await _skip_to(env, datetime.combine(tuesday, time(11, 40), CHICAGO))
    ops = await task_in(sqlite_db, "ops-review")
    state = await lead.state()
    # Ops review picks the handoff up: it is still the lead's handoff, so it is accepted.
    taken = await act(lead, ops.task_id, "accept")

    assert task.task_id in str(alert["Subject"])
    assert escalation.escalated_from == task.task_id
    assert json.loads(escalation.context)["escalation"]["from_task"] == task.task_id
    assert ops.escalated_from == escalation.task_id
    [first] = tasks(sqlite_db, task_id=task.task_id)
    assert first.status == "escalated"
    breaches = [d for d in state.decisions if d.rule_id == "sla.breached"]
    assert len(breaches) == 2 and "sales-managers" in breaches[0].outcome
    assert state.owner_queue == "ops-review"
    assert taken.stage is Stage.SALES_ACCEPTED


async def test_accepting_before_the_deadline_means_no_escalation(
    env: WorkflowEnvironment, lead: Journey, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    await lead.event("meeting_requested", product="Corvanta")
    task = await task_in(sqlite_db, "sales-us-midwest")
    result = await act(lead, task.task_id, "accept")
    await env.sleep(timedelta(days=10))
    await lead.event("meeting_booked", by="rep.key")
    state = await lead.state()
    closed = await act(lead, task.task_id, "close", outcome="won")

    assert result.stage is Stage.SALES_ACCEPTED
    assert state.stage is Stage.MEETING_SET
    assert closed.stage is Stage.CLOSED
    assert [t.queue for t in tasks(sqlite_db)] == ["sales-us-midwest"]
    assert not any(d.rule_id == "sla.breached" for d in state.decisions)
    assert not [m for m in smtp_server.messages if "SLA breached" in str(m["Subject"])]
    [row] = tasks(sqlite_db)
    assert row.status == "closed" and row.resolution == "won"


async def test_a_lead_without_a_territory_is_enriched_again_then_goes_to_the_data_steward(
    new_journey: NewJourney, sqlite_db: Engine
) -> None:
    lead = new_journey(postal_code=None)
    await lead.event("meeting_requested", product="Corvanta")
    steward = await task_in(sqlite_db, "data-steward")
    state = await lead.until(lambda s: not s.route_orders)

    assert steward.lead_id == lead.lead_id
    [low] = [d for d in state.decisions if d.rule_id == "routing.low_confidence"]
    assert "territory" in low.outcome
    [routed] = [d for d in state.decisions if d.rule_id == "route.meeting_request"]
    assert routed.inputs["to_queue"] == "(after enrichment)"
    assert not [t for t in tasks(sqlite_db) if t.kind == "sales"]


async def test_one_request_opens_a_safety_task_and_a_sales_task_without_the_text(
    lead: Journey, sqlite_db: Engine
) -> None:
    """DOMAIN precedence: the report goes to drug safety first, the meeting to sales too."""
    comment = "Please call - my patient got really dizzy and fainted after starting Corvanta"
    await lead.event("meeting_requested", product="Corvanta", comment=comment)
    safety = await task_in(sqlite_db, "drug-safety")
    sales = await task_in(sqlite_db, "sales-us-midwest")
    state = await lead.until(lambda s: not s.route_orders)

    assert rules_fired(state.decisions) == ["route.drug_safety", "route.meeting_request"]
    [case_ref] = state.case_refs
    for task in (safety, sales):
        assert "dizzy" not in task.context
        assert json.loads(task.context)["case_refs"] == [case_ref]
    assert state.stage is Stage.HANDED_OFF
