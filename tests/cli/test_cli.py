"""The `leadflow` CLI against a real dev server, worker and database: a lead's audit trail,
and compliance reviews listed and decided."""

from __future__ import annotations

import asyncio
import base64
import getpass
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from starter.cli import app
from starter.settings import SAMPLE_PROGRAM
from tests.helpers.journey import Journey, NewJourney
from tests.helpers.polling import eventually


async def leadflow(*args: str) -> Result:
    """Run the CLI off the event loop (it runs its own), as a user would."""
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args)))


@pytest.mark.devserver
@pytest.mark.usefixtures("cli_settings")
async def test_lead_audit_shows_events_and_who_paused(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    lead_id = lead.lead_id
    assert lead_id is not None
    paused = await leadflow(
        "lead", "pause", lead_id, "--by", "rep.jordan", "--reason", "call booked"
    )
    assert paused.exit_code == 0, paused.output

    async def paused_in_trail() -> dict[str, Any] | None:
        shown = await leadflow("lead", "audit", lead_id, "--json")
        assert shown.exit_code == 0, shown.output
        trail = json.loads(shown.stdout)
        actors = [e["actor"] for e in trail["entries"]]
        return trail if "rep.jordan" in actors else None

    trail = await eventually(paused_in_trail)
    table = await leadflow("lead", "audit", lead_id)
    exported = await leadflow("lead", "audit", lead_id, "--format", "csv")
    unknown = await leadflow("lead", "audit", "ld_nobody")

    whats = {(e["kind"], e["actor"], e["what"]) for e in trail["entries"]}
    assert ("decision", "leadflow", "recorded content_downloaded") in whats
    assert ("decision", "rep.jordan", "nurture paused until resumed") in whats
    assert trail["workflow_url"].endswith(f"/workflows/lead-{lead_id}")
    assert table.exit_code == 0 and "rep.jordan" in table.stdout
    assert "recorded content_downloaded" in table.stdout
    assert exported.stdout.splitlines()[0] == "at,kind,actor,what,detail"
    assert "rep.jordan" in exported.stdout
    assert unknown.exit_code == 1 and "no lead ld_nobody" in unknown.output


@pytest.mark.devserver
@pytest.mark.program(SAMPLE_PROGRAM)
@pytest.mark.usefixtures("cli_settings")
async def test_a_held_lead_is_listed_and_released_from_the_cli(new_journey: NewJourney) -> None:
    # A self-declared physician without NPI or CRM record asks for pricing.
    lead = new_journey(npi=None, email="self.declared@x.example")
    await lead.event("page_viewed", topics=["heart_failure"])
    await lead.event("pricing_requested", product="Corvanta")
    await lead.until(lambda s: s.review is not None and s.review.recorded)

    listed = await leadflow("review", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [review] = json.loads(listed.stdout)
    assert (review["lead_id"], review["status"]) == (lead.lead_id, "open")
    table = await leadflow("review", "list", "--status", "open")
    assert review["review_id"] in table.stdout

    decided = await leadflow(
        "review", "decide", review["review_id"],
        "--decision", "release", "--reviewer", "c.okafor", "--note", "checked the request",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert f"review {review['review_id']} released by c.okafor" in decided.stdout
    state = await lead.until(lambda s: s.review is None)
    again = await leadflow(
        "review", "decide", review["review_id"], "--decision", "block", "--reviewer", "x"
    )
    unknown = await leadflow(
        "review", "decide", "rv_nope", "--decision", "block", "--reviewer", "x"
    )
    released = json.loads(
        (await leadflow("review", "list", "--status", "released", "--json")).stdout
    )
    still_open = json.loads((await leadflow("review", "list", "--status", "open", "--json")).stdout)

    assert state.stage is not None and state.stage.value != "compliance_hold"
    [item] = released
    assert (item["reviewer"], item["note"]) == ("c.okafor", "checked the request")
    assert item["actor"] == f"cli:{getpass.getuser()}"
    assert still_open == []
    assert again.exit_code == 1 and "is not open" in again.output
    assert unknown.exit_code == 1 and "no review rv_nope" in unknown.output
    bad = await leadflow("review", "decide", "rv_x", "--decision", "approve", "--reviewer", "x")
    assert bad.exit_code == 2


@pytest.mark.devserver
@pytest.mark.usefixtures("cli_settings")
async def test_lead_history_lists_signals_activities_and_timers(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    assert lead.lead_id is not None
    await eventually(lambda: lead.emails())
    shown = await leadflow("lead", "history", lead.lead_id)
    raw = await leadflow("lead", "history", lead.lead_id, "--json")

    assert shown.exit_code == 0, shown.output
    for expected in ("workflow_execution_started", "record_event", "load_program", "send_touch"):
        assert expected in shown.output
    started = json.loads(raw.output)["events"][0]
    assert started["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    [lead_input] = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    assert base64.b64decode(lead_input["metadata"]["encoding"]) == b"json/plain"  # decoded
    assert lead.lead_id.encode() in base64.b64decode(lead_input["data"])


async def test_simulate_shows_what_the_program_would_do_offline(tmp_path: Path) -> None:
    not_a_journey = tmp_path / "journey.yaml"
    not_a_journey.write_text("name: just a mapping\n")
    shown = await leadflow("simulate", "examples/journey.yaml", "--program", str(SAMPLE_PROGRAM))
    raw = await leadflow("simulate", "examples/journey.yaml", "--json", "--days", "10")
    broken = await leadflow("simulate", str(not_a_journey))

    assert shown.exit_code == 0, shown.output
    assert "route.meeting_request" in shown.output
    result = json.loads(raw.output)
    sent = [t["asset_id"] for t in result["touches"] if t["status"] == "sent"]
    assert sent == ["CVT-EDU-100", "CVT-EVD-210"]  # the first touch, then the download's follow-up
    rules = [d["rule_id"] for d in result["decisions"]]
    assert "intent.fast_lane" in rules and "route.meeting_request" in rules
    assert result["stage"] == "mql"  # no CRM offline: the route is the answer
    assert broken.exit_code == 2 and "expected a list of events" in broken.output
