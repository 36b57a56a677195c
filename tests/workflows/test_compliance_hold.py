"""Compliance hold: a trigger holds the lead with a review item; a reviewer releases or blocks;
an undecided review escalates."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from models.lead_state import ReviewDecision, Stage
from models.queries import list_reviews
from starter.settings import SAMPLE_PROGRAM
from tests.helpers.journey import Journey, NewJourney
from tests.helpers.polling import eventually
from workflows.lead import LeadWorkflow

pytestmark = pytest.mark.program(SAMPLE_PROGRAM)


@pytest.fixture
async def unverified(new_journey: NewJourney) -> Journey:
    """A self-declared physician without an NPI or CRM record (not a verified HCP)."""
    lead = new_journey(npi=None, email="self.declared@clinic.example")
    await lead.event("page_viewed", topics=["heart_failure"])
    await lead.event("pricing_requested", product="Corvanta")
    return lead


async def _decide(lead: Journey, decision: str) -> None:
    state = await lead.state()
    assert state.review is not None
    await lead.handle.execute_update(
        LeadWorkflow.decide_review,
        ReviewDecision(
            review_id=state.review.review_id,
            reviewer="c.okafor",
            decision=decision,
            note="checked the request",
        ),
    )


async def test_unverified_hcp_asking_for_promotion_is_held_for_review(
    unverified: Journey, sqlite_db: Engine
) -> None:
    state = await unverified.until(lambda s: s.review is not None and s.review.recorded)
    assert state.stage is Stage.COMPLIANCE_HOLD
    # The state says recorded as its activity starts: the row lands a moment later.
    [item] = await eventually(lambda: list_reviews(sqlite_db, "open"))
    assert item.reason == "unverified HCP asking for promotional material"
    await unverified.days(10)
    assert unverified.emails() == []  # nothing promotional while held


async def test_release_resumes_where_it_stopped_and_records_the_reviewer(
    unverified: Journey, sqlite_db: Engine
) -> None:
    before = (await unverified.until(lambda s: s.review is not None)).review
    assert before is not None
    await _decide(unverified, "release")
    state = await unverified.state()
    assert state.review is None
    moves = [d.outcome for d in state.decisions if d.rule_id == "compliance.release"]
    assert f"stage compliance_hold -> {before.stage_before.value}" in moves
    # The pricing request it held back goes on to sales now.
    assert any(d.rule_id == "routing.released" for d in state.decisions)
    assert state.stage is Stage.HANDED_OFF and state.owner_queue == "sales-us-midwest"
    [item] = list_reviews(sqlite_db, "released")
    assert (item.reviewer, item.note) == ("c.okafor", "checked the request")
    released = [d for d in state.decisions if d.rule_id == "compliance.release"]
    assert released[0].inputs["reviewer"] == "c.okafor"


async def test_block_disqualifies(unverified: Journey, sqlite_db: Engine) -> None:
    await unverified.until(lambda s: s.review is not None)
    await _decide(unverified, "block")
    state = await unverified.state()
    assert state.stage is Stage.DISQUALIFIED and state.tasks == []  # the request is dropped
    assert [r.status for r in list_reviews(sqlite_db, None)] == ["blocked"]


async def test_an_undecided_review_escalates(unverified: Journey, sqlite_db: Engine) -> None:
    await unverified.until(lambda s: s.review is not None and s.review.recorded)
    await unverified.days(3)  # the sample program's review_within is P2D
    state = await unverified.until(lambda s: s.review is not None and s.review.escalated)
    assert "compliance.escalated" in [d.rule_id for d in state.decisions]
    escalated = await eventually(lambda: [r.status for r in list_reviews(sqlite_db, "escalated")])
    assert [r.status for r in list_reviews(sqlite_db, None)] == escalated == ["escalated"]


async def test_a_german_lead_asking_for_promotion_without_consent_is_held(
    new_journey: NewJourney,
) -> None:
    lead = new_journey(
        email="dr.weber@klinik.example", country="DE", npi=None, crm_id="CRM-DE-0042"
    )
    await lead.event("info_requested", product="Corvanta")
    state = await lead.until(lambda s: s.review is not None)
    assert state.stage is Stage.COMPLIANCE_HOLD
    assert state.review is not None
    assert state.review.reason == "no consent basis for promotion in an opt-in country"
