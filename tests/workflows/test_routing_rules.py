"""Routing rules and business-hour SLAs as pure functions, and the program checks behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow_domain.business_hours import add_business_time
from models.events import LeadEvent, LeadFacts
from models.lead_state import LeadState, Score, Stage
from models.program import ProgramError, load_program, load_program_text
from models.routing import BusinessHours, CrmTaskResult, TaskAction
from starter.settings import SAMPLE_PROGRAM
from workflows.engine import LeadEngine
from workflows.route_rules import RouteContext, first_match, high_value, sample_problems

PROGRAM = load_program(SAMPLE_PROGRAM)
ROUTING = PROGRAM.routing
assert ROUTING is not None
HCP = LeadFacts(
    role="physician",
    country="US",
    postal_code="60611",
    territory="US-MIDWEST",
    npi_valid=True,
    organization="Northside Cardiology Group",
)


def ctx(event_type: str | None, **changes: Any) -> RouteContext:
    values: dict[str, Any] = {
        "event_type": event_type,
        "stage": Stage.MQL,
        "facts": HCP,
        "score": Score(fit=60, engagement=10),
    }
    values.update(changes)
    return RouteContext(**values)


def rule_for(context: RouteContext) -> str | None:
    assert ROUTING is not None
    rule = first_match(ROUTING, context, skip=set())
    return rule.id if rule else None


def test_sample_program_rules_follow_domain_precedence() -> None:
    assert ROUTING is not None
    ranks = {r.id: r.rank for r in ROUTING.rules}
    order = [
        "route.drug_safety",
        "route.medical_screened",
        "route.sample_verification",
        "route.meeting_request",
        "route.mql",
    ]
    assert [ranks[r] for r in order] == sorted(ranks[r] for r in order)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (ctx("meeting_requested", screening_route="drug_safety"), "route.drug_safety"),
        (ctx("medical_question"), "route.medical_question"),
        (ctx("form_submitted", screening_route="medical_information"), "route.medical_screened"),
        (ctx("trial_question"), "route.trial_eligibility"),
        (ctx("sample_requested", sample_eligible=False), "route.sample_verification"),
        (ctx("sample_requested", sample_eligible=True), "route.sample_fulfilment"),
        (ctx("demo_requested", high_value_account=True), "route.meeting_request"),
        (ctx("pricing_requested"), "route.pricing_request"),
        (ctx("page_viewed", stage=Stage.ENGAGED, high_value_account=True), "route.key_account"),
        (ctx("page_viewed"), "route.mql"),
        (ctx("page_viewed", stage=Stage.NURTURING), None),
    ],
)
def test_first_matching_rule_by_rank(context: RouteContext, expected: str | None) -> None:
    assert rule_for(context) == expected


def test_skipped_once_rules_are_passed_over() -> None:
    assert ROUTING is not None
    context = ctx("page_viewed", stage=Stage.ENGAGED, high_value_account=True)
    assert first_match(ROUTING, context, skip={"route.key_account"}) is None


def test_high_value_accounts_match_by_normalised_name() -> None:
    assert ROUTING is not None
    assert high_value(
        ROUTING, HCP.model_copy(update={"organization": " northside cardiology group"})
    )
    assert not high_value(ROUTING, HCP.model_copy(update={"organization": "Northside Clinic"}))


def test_samples_need_a_valid_npi_and_a_signed_request() -> None:
    assert sample_problems(HCP, {"signed_request": True}) == []
    assert sample_problems(HCP, {}) == ["no signed written request"]
    unverified = HCP.model_copy(update={"npi_valid": False})
    assert sample_problems(unverified, {"signed_request": "yes"}) == [
        "no valid NPI on record",
        "no signed written request",
    ]


def _edited(tmp_path: Path, edit: Any) -> Path:
    raw = yaml.safe_load(SAMPLE_PROGRAM.read_text())
    edit(raw["routing"])
    path = tmp_path / "program.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["rules"][0].update(queue="nowhere"), "names unknown queue nowhere"),
        (lambda r: r["rules"][1].update(rank=10), "rule ranks must be unique"),
        (
            lambda r: r.update(queues=[q for q in r["queues"] if q["id"] != "sales-us-west"]),
            "no queue sales-us-west for US-WEST",
        ),
        (lambda r: r["recycle_tracks"].update(not_ready="fast-track"), "unknown track fast-track"),
        (lambda r: r["queues"][0].update(sla="an hour"), "routing.queues.0.sla"),
    ],
)
def test_a_broken_routing_section_is_refused_naming_the_field(
    tmp_path: Path, edit: Any, message: str
) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(ProgramError, match=message):
        load_program_text(path, path.read_text())


HOURS = BusinessHours()


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Monday 10:00 Chicago + 1h = 11:00 (16:00 -> 17:00 UTC in winter).
        ("2026-11-30T16:00:00+00:00", 1, "2026-11-30T17:00:00+00:00"),
        # Monday 16:30 + 1h: 30 min today, 30 min on Tuesday from 09:00.
        ("2026-11-30T22:30:00+00:00", 1, "2026-12-01T15:30:00+00:00"),
        # Saturday counts from Monday 09:00.
        ("2026-12-05T15:00:00+00:00", 1, "2026-12-07T16:00:00+00:00"),
        # Thursday 24 Dec 16:30, Friday 25 Dec is Christmas: Monday 28 09:30.
        ("2026-12-24T22:30:00+00:00", 1, "2026-12-28T15:30:00+00:00"),
        # Across the spring DST change (8 March 2026): Friday 16:30 CST -> Monday 09:30 CDT.
        ("2026-03-06T22:30:00+00:00", 1, "2026-03-09T14:30:00+00:00"),
        # Two full business days from Monday's opening end at Tuesday's close.
        ("2026-11-30T15:00:00+00:00", 16, "2026-12-01T23:00:00+00:00"),
    ],
)
def test_business_time_skips_nights_weekends_and_holidays(
    start: str, hours: int, expected: str
) -> None:
    due = add_business_time(
        datetime.fromisoformat(start), timedelta(hours=hours), HOURS, "America/Chicago", "US"
    )
    assert due == datetime.fromisoformat(expected)
    assert due.tzinfo is UTC


def test_an_unknown_country_counts_weekends_only() -> None:
    start = datetime(2026, 12, 24, 22, 30, tzinfo=UTC)
    due = add_business_time(start, timedelta(hours=1), HOURS, "America/Chicago", "ZZ")
    assert due == datetime(2026, 12, 25, 15, 30, tzinfo=UTC)


def _event(type: str, at: datetime, **properties: Any) -> LeadEvent:
    return LeadEvent(
        event_id=f"e-{type}-{at.timestamp()}",
        type=type,
        occurred_at=at,
        lead=HCP.model_copy(
            update={"specialty": "cardiology", "org_type": "hospital", "organization": "Evanston"}
        ),
        properties=properties,
    )


def test_a_recycled_lead_requalifies_only_through_fresh_behaviour() -> None:
    """Sales sent it back: its old score alone does not make it an MQL again (DOMAIN 23)."""
    start = datetime(2026, 11, 30, 15, tzinfo=UTC)
    engine = LeadEngine(LeadState(lead_id="ld_cold"), PROGRAM)
    for minute in range(3):
        engine.apply_event(_event("webinar_attended", start + timedelta(minutes=minute)), start)
    assert engine.state.stage is Stage.MQL and engine.state.route_orders  # to SDR qualification
    order = engine.state.route_orders[0]
    task = engine.handoff.task_input(order, start)
    engine.handoff.record_task_created(
        order, CrmTaskResult(task_id=task.task_id, queue=order.queue, created=True), start
    )
    assert engine.state.stage is Stage.HANDED_OFF
    later = start + timedelta(hours=1)
    engine.handoff.act(
        TaskAction(task_id=task.task_id, action="reject", reason="not_ready", actor="sdr.lee"),
        later,
    )
    assert engine.state.stage is Stage.RECYCLED and engine.state.score.mql
    engine.rescore(later + timedelta(minutes=1), "timer:test")
    assert engine.state.stage is Stage.RECYCLED  # still over threshold, but nothing new
    fresh = later + timedelta(days=1)
    engine.apply_event(_event("content_downloaded", fresh, asset_id="CVT-EVD-200"), fresh)
    assert engine.state.stage is Stage.MQL


def test_a_sample_request_waits_for_verification_and_makes_no_mql() -> None:
    """DOMAIN 22: each request is checked; nothing reaches sales while it waits."""
    now = datetime(2026, 11, 30, 15, tzinfo=UTC)
    engine = LeadEngine(LeadState(lead_id="ld_sample"), PROGRAM)
    engine.apply_event(_event("sample_requested", now, product="Corvanta"), now)
    assert engine.state.stage is not Stage.MQL
    assert [o.queue for o in engine.state.route_orders] == ["licence-verification"]
    assert engine.state.sample_status == "verification_pending"
    signed = now + timedelta(minutes=5)
    engine.state.route_orders.clear()
    engine.apply_event(_event("sample_requested", signed, signed_request=True), signed)
    assert [o.queue for o in engine.state.route_orders] == ["sample-operations"]
    later = now + timedelta(days=9)
    engine.state.route_orders.clear()
    engine.apply_event(_event("sample_requested", later, product="Corvanta"), later)
    assert [o.queue for o in engine.state.route_orders] == ["licence-verification"]


def test_a_consumer_without_a_territory_is_refused_before_enrichment() -> None:
    now = datetime(2026, 11, 30, 15, tzinfo=UTC)
    engine = LeadEngine(LeadState(lead_id="ld_patient"), PROGRAM)
    event = _event("meeting_requested", now)
    event.lead = HCP.model_copy(update={"role": "patient", "territory": None, "postal_code": None})
    engine.apply_event(event, now)
    assert engine.state.route_orders == []
    assert any(d.rule_id == "routing.blocked" for d in engine.state.decisions)
