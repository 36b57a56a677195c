"""LeadWorkflow on the time-skipping test server, with its real activities."""

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.events import LeadEvent, LeadEventIn
from models.lead_state import LeadState, Stage, lead_workflow_id
from starter.intake import Intake
from starter.settings import Settings
from starter.smtp_sink import SmtpSink
from tests.helpers.factories import event_payload
from tests.helpers.polling import eventually, wait_for_messages
from workflows.lead import LeadWorkflow


async def _submit(env: WorkflowEnvironment, settings: Settings, db: Engine, **kw) -> str:  # type: ignore[no-untyped-def]
    event = LeadEventIn.model_validate(event_payload(**kw))
    [result] = await Intake(env.client, db, settings.task_queue).submit([event])
    return result.lead_id


def _handle(env: WorkflowEnvironment, lead_id: str) -> WorkflowHandle:  # type: ignore[type-arg]
    return env.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))


async def _state_when(handle: WorkflowHandle, check) -> LeadState:  # type: ignore[no-untyped-def,type-arg]
    async def query() -> LeadState | None:
        state = await handle.query(LeadWorkflow.state)
        return state if check(state) else None

    return await eventually(query)  # type: ignore[no-any-return]


@pytest.mark.program(first_touch_delay="P1D")
@pytest.mark.usefixtures("worker")
async def test_download_gets_the_follow_up_after_the_programs_delay(
    env: WorkflowEnvironment, settings: Settings, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    lead_id = await _submit(env, settings, sqlite_db)
    handle = _handle(env, lead_id)
    state = await _state_when(handle, lambda s: s.next_touch_at is not None)
    assert state.stage is Stage.ENGAGED

    await env.sleep(timedelta(hours=23))
    assert smtp_server.messages == []  # not a day yet

    await env.sleep(timedelta(hours=2))
    [email] = await wait_for_messages(smtp_server, 1)
    state = await _state_when(handle, lambda s: s.touches)

    assert email["X-Leadflow-Asset"] == "CVT-EVD-210;version=2.0"
    assert state.stage is Stage.NURTURING
    assert [(t.asset_id, t.asset_version, t.status) for t in state.touches] == [
        ("CVT-EVD-210", "2.0", "sent")
    ]
    rules = [d.rule_id for d in state.decisions]
    assert rules == [
        "event.recorded",
        "stage.first_engagement",
        "track.evidence_download",  # track education-first -> evidence-first
        "track.evidence_download",  # next asset: the study summary
        "cadence.first_touch",
        "cadence.next_touch",
        "touch.sent",
        "stage.first_touch",
        "cadence.next_touch",
    ]
    assert all(d.program_version == "2026.11.1" for d in state.decisions)


@pytest.mark.usefixtures("worker")
async def test_duplicate_delivery_is_ignored_and_sends_once(
    env: WorkflowEnvironment, settings: Settings, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    payload = event_payload()
    event = LeadEventIn.model_validate(payload)
    intake = Intake(env.client, sqlite_db, settings.task_queue)
    [first] = await intake.submit([event])
    again = await intake.submit([event])
    assert again[0].status == "duplicate"  # intake knows the event id
    # A delivery that gets past intake (at-least-once signals) is dropped by the workflow.
    await _handle(env, first.lead_id).signal(
        LeadWorkflow.record_event, LeadEvent.from_intake(event)
    )
    # A second, distinct download.
    [result] = await intake.submit([LeadEventIn.model_validate(event_payload())])
    handle = _handle(env, result.lead_id)
    await _state_when(handle, lambda s: len(s.recent_event_ids) == 2)
    await env.sleep(timedelta(seconds=5))
    await wait_for_messages(smtp_server, 1)
    state = await _state_when(handle, lambda s: s.touches)
    await env.sleep(timedelta(minutes=5))

    assert len(smtp_server.messages) == 1
    duplicates = [d for d in state.decisions if d.rule_id == "event.duplicate"]
    assert [d.trigger for d in duplicates] == [f"event:{payload['event_id']}"]


@pytest.mark.program(asset_changes={"CVT-EVD-210": {"status": "withdrawn"}})
@pytest.mark.usefixtures("worker")
async def test_a_withdrawn_asset_is_not_sent_and_the_reason_is_logged(
    env: WorkflowEnvironment, settings: Settings, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    lead_id = await _submit(env, settings, sqlite_db)
    handle = _handle(env, lead_id)
    await _state_when(handle, lambda s: s.next_touch_at is not None)
    await env.sleep(timedelta(seconds=5))
    state = await _state_when(handle, lambda s: s.touches)

    assert smtp_server.messages == []
    assert state.touches[0].status == "blocked"
    [blocked] = [d for d in state.decisions if d.rule_id == "touch.blocked"]
    assert blocked.outcome == "not sent: asset status is withdrawn"
    assert state.stage is Stage.ENGAGED
