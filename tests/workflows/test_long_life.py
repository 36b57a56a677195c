"""A lead that lives long: continue-as-new keeps its state and its complete decision log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from models.events import LeadEventIn
from models.queries import archived_decisions
from starter.intake import Intake
from starter.settings import Settings
from tests.helpers.factories import event_payload
from tests.helpers.journey import Journey

EVENTS = 150


def short_runs(program: dict[str, Any]) -> None:
    """Runs short enough that the lead's events continue it as new at least once."""
    program["long_life"] = {"max_history_events": 100, "recent_event_ids": 500}


@pytest.mark.program(change=short_runs)
async def test_continue_as_new_keeps_state_and_the_whole_decision_log(
    env: WorkflowEnvironment, settings: Settings, sqlite_db: Engine, lead: Journey
) -> None:
    first = await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    first_run = (await lead.handle.describe()).run_id
    views = [
        LeadEventIn.model_validate(event_payload(type="page_viewed", properties={"n": n}))
        for n in range(EVENTS - 1)
    ]
    await Intake(env.client, sqlite_db, settings.task_queue).submit(views)
    event_ids = [first] + [view.event_id for view in views]
    state = await lead.until(lambda s: s.events_total == EVENTS and s.runs >= 2)
    live = (await lead.decisions()).decisions
    description = await lead.handle.describe()

    assert state.runs >= 2 and description.run_id != first_run
    assert state.track == "evidence-first"
    assert state.score.engagement > 0 and state.score.fit > 0
    archived = archived_decisions(sqlite_db, state.lead_id)
    assert archived, "earlier runs' decisions were archived"
    log = archived + [d for d in live if d.seq not in {a.seq for a in archived}]
    assert [d.seq for d in log] == list(range(1, state.decision_seq + 1))  # nothing lost
    recorded = {d.trigger for d in log if d.rule_id == "event.recorded"}
    assert recorded == {f"event:{event_id}" for event_id in event_ids}
