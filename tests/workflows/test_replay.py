"""Replay saved histories of representative leads against the current workflow code.

A change to LeadWorkflow that would break a running lead fails here. To record the histories
again (after a deliberate, `workflow.patched`-guarded change), run:

    LEADFLOW_RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_replay.py -k record
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from leadflow_domain.payload_crypto import DataKeyStore
from models.routing import TaskAction
from starter.payload_codec import EncryptionCodec, decode_history
from starter.settings import SAMPLE_PROGRAM
from starter.temporal import data_converter
from tests.helpers.journey import Journey
from workflows.lead import LeadWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORD = os.environ.get("LEADFLOW_RECORD_HISTORIES") == "1"


async def _evidence_journey(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    await lead.event("email_opened", message_id=lead.emails()[0]["Message-ID"])
    await lead.event("email_clicked", message_id=lead.emails()[0]["Message-ID"])
    await lead.days(8)


async def _paused_then_opted_out(lead: Journey) -> None:
    await lead.event("webinar_registered", event_name="CORVA-HF symposium", topics=["evidence"])
    await lead.days(1)
    now = await lead.env.get_current_time()
    await lead.pause(by="rep.jordan", reason="congress week", until=now + timedelta(days=5))
    await lead.days(7)
    await lead.event("medical_question", text="is it safe with spironolactone?")
    await lead.event("unsubscribed", channel="email")
    await lead.raw_event("brochure_printed")  # unknown type: rejected in the log, not a failure
    await lead.raw_event("email_bounced", bounce_type="sideways")  # bad property
    await lead.days(14)


async def _high_intent(lead: Journey) -> None:
    for topic in ("mechanism_of_action", "endpoints", "endpoints"):
        await lead.event("page_viewed", topics=[topic])
    await lead.event("meeting_requested", product="Corvanta", comment="call me")
    await lead.event("meeting_booked", by="rep.jordan")
    await lead.days(3)


async def _handed_off_and_recycled(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    await lead.event("meeting_requested", product="Corvanta")
    state = await lead.until(lambda s: bool(s.tasks))
    await lead.handle.execute_update(
        LeadWorkflow.act_on_task,
        TaskAction(
            task_id=state.tasks[0].task_id, action="reject", reason="not_ready", actor="rep.kim"
        ),
    )
    await lead.event("medical_question", text="any data in dialysis patients?")
    await lead.days(1)  # across the medical task's SLA: escalates to ops review
    await lead.days(10)


SCENARIOS: dict[str, Callable[[Journey], Awaitable[None]]] = {
    "evidence_journey": _evidence_journey,
    "paused_then_opted_out": _paused_then_opted_out,
    "high_intent": _high_intent,
    "handed_off_and_recycled": _handed_off_and_recycled,
}


@pytest.mark.skipif(not RECORD, reason="set LEADFLOW_RECORD_HISTORIES=1 to record")
@pytest.mark.program(SAMPLE_PROGRAM)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_record_history(name: str, lead: Journey, payload_keys: DataKeyStore) -> None:
    await SCENARIOS[name](lead)
    history = await lead.handle.fetch_history()
    # Saved in clear: the test's data keys die with it, and the replay needs none.
    await decode_history(history, EncryptionCodec(payload_keys))
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


def _saved() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_every_scenario_has_a_saved_history() -> None:
    assert {p.stem for p in _saved()} >= set(SCENARIOS)


@pytest.mark.parametrize("path", _saved(), ids=lambda p: p.stem)
async def test_saved_history_replays(path: Path, payload_keys: DataKeyStore) -> None:
    """Through the payload codec: histories recorded in clear decode unchanged."""
    history = WorkflowHistory.from_json(f"lead-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[LeadWorkflow], data_converter=data_converter(payload_keys))
    await replayer.replay_workflow(history)
