"""The seed behaviours, cadence, pause and stop rules, on the time-skipping server with the
sample program's real durations (days and weeks)."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from models.lead_state import Stage
from models.program import Program, load_program
from starter.settings import SAMPLE_PROGRAM, Settings
from tests.helpers.journey import Journey, NewJourney

pytestmark = pytest.mark.program(SAMPLE_PROGRAM)


async def test_evidence_brochure_leads_to_study_summary_then_webinar(lead: Journey) -> None:
    await lead.event(
        "content_downloaded",
        asset_id="CVT-EVD-200",
        title="CORVA-HF evidence brochure",
        topics=["evidence"],
    )
    await lead.days(1)
    assert lead.assets_emailed() == ["CVT-EVD-210"]  # the approved study summary, next
    await lead.event("email_opened", message_id=lead.emails()[0]["Message-ID"])
    await lead.days(8)
    assert lead.assets_emailed() == ["CVT-EVD-210", "CVT-EVT-300"]  # then the webinar invite
    state = await lead.state()
    assert state.track == "evidence-first"
    assert state.stage is Stage.NURTURING


async def test_mechanism_and_endpoint_page_views_lead_to_the_webinar_invitation(
    lead: Journey,
) -> None:
    for topic in ("mechanism_of_action", "endpoints", "mechanism_of_action"):
        await lead.event("page_viewed", url=f"https://corvanta.example/{topic}", topics=[topic])
    await lead.days(3)
    assert lead.assets_emailed()[0] == "CVT-EVT-300"
    decisions = (await lead.decisions()).decisions
    assert "track.evidence_interest" in [d.rule_id for d in decisions]


async def test_event_registrant_who_opens_nothing_gets_fewer_sends(new_journey: NewJourney) -> None:
    silent = new_journey(email="silent.registrant@clinic.example")
    engaged = new_journey(email="engaged.registrant@clinic.example")
    for lead in (silent, engaged):
        await lead.event("webinar_registered", event_name="CORVA-HF symposium", topics=["evidence"])
    opened: set[str] = set()
    for _ in range(21):  # three weeks; the engaged registrant opens every email
        await silent.days(1)
        for message in engaged.emails():
            if message["Message-ID"] not in opened:
                opened.add(message["Message-ID"])
                await engaged.event("email_opened", message_id=message["Message-ID"])
    silent_state = await silent.state()
    assert silent_state.track == "re-engagement"
    assert len(silent.emails()) < len(engaged.emails())
    assert (await engaged.state()).track == "event-follow-up"
    assert "track.silence" in [d.rule_id for d in silent_state.decisions]


async def test_clinician_downloading_the_dosing_guide_moves_to_practical_use(lead: Journey) -> None:
    await lead.event("page_viewed", url="https://corvanta.example/hcp", topics=["heart_failure"])
    assert (await lead.state()).track == "education-first"
    await lead.event(
        "content_downloaded",
        asset_id="CVT-PRA-400",
        title="Dosing and titration guide",
        topics=["dosing"],
    )
    await lead.days(1)
    state = await lead.state()
    assert state.track == "solution-fit"
    assert lead.assets_emailed() == ["CVT-PRA-410"]  # not the guide they already have


async def test_pause_holds_every_send_and_resume_sends_again(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    assert len(lead.emails()) == 1
    await lead.pause(by="rep.jordan", reason="in active conversation with the practice")
    await lead.days(21)
    assert len(lead.emails()) == 1  # nothing promotional while paused
    await lead.resume(by="rep.jordan", reason="conversation closed")
    await lead.days(4)
    assert lead.assets_emailed() == ["CVT-EVD-210", "CVT-EVT-300"]
    manual = [d for d in (await lead.decisions()).decisions if d.rule_id.startswith("manual.")]
    assert [(d.rule_id, d.inputs["by"]) for d in manual] == [
        ("manual.pause", "rep.jordan"),
        ("manual.resume", "rep.jordan"),
    ]
    assert manual[0].inputs["reason"] == "in active conversation with the practice"


async def test_pause_until_resumes_by_itself(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    now = await lead.env.get_current_time()
    await lead.pause(by="rep.jordan", reason="congress week", until=now + timedelta(days=10))
    await lead.days(9)
    assert len(lead.emails()) == 1
    await lead.days(4)
    assert len(lead.emails()) == 2
    state = await lead.state()
    assert state.pause is None
    resumed = [d for d in state.decisions if d.rule_id == "manual.resume"]
    assert resumed[-1].trigger == "timer:pause_until"


async def test_opt_out_mid_cadence_stops_all_further_email(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    assert len(lead.emails()) == 1
    await lead.event("unsubscribed", channel="email")
    await lead.event("email_clicked", message_id=lead.emails()[0]["Message-ID"])
    await lead.days(60)
    assert len(lead.emails()) == 1
    state = await lead.state()
    assert state.stage is Stage.OPTED_OUT
    assert "stop.opt_out" in state.stops
    assert state.marketing_objection
    rules = [d.rule_id for d in state.decisions]
    assert "score.objection" in rules  # the click after the objection was not scored


def one_send_a_week(program: dict[str, Any]) -> None:
    """The sample program with a long track and a tight cap, so the cap is what binds."""
    program["cadence"]["caps"] = [{"window": "P7D", "max_sends": 1}]
    program["tracks"]["definitions"]["event-follow-up"]["assets"] = [
        asset["id"] for asset in program["assets"]
    ]


@pytest.mark.program(change=one_send_a_week)
async def test_caps_and_quiet_hours_hold_for_a_lead_who_clicks_everything(
    lead: Journey, settings: Settings
) -> None:
    await _click_everything(lead, load_program(settings.program))


async def _click_everything(lead: Journey, program: Program) -> None:
    await lead.event("webinar_registered", event_name="CORVA-HF symposium", topics=["evidence"])
    clicked: set[str] = set()
    for _ in range(30):
        await lead.days(1)
        for touch in (await lead.state()).touches:
            if touch.touch_id not in clicked:
                clicked.add(touch.touch_id)
                await lead.event("email_clicked", message_id=touch.message_id or "")
    sent = [t.at for t in (await lead.state()).touches if t.status == "sent"]
    assert len(sent) >= 4  # clicks ask for a touch every 2 days; the cap allows one a week
    assert all(later - earlier >= timedelta(days=7) for earlier, later in pairwise(sent))
    for cap in program.cadence.caps:
        for t in sent:
            assert sum(1 for other in sent if t - cap.window < other <= t) <= cap.max_sends
    zone = ZoneInfo("America/Chicago")
    for t in sent[1:]:  # the first touch answers the registration at once
        local = t.astimezone(zone)
        assert local.weekday() < 5, f"sent on a weekend: {local}"
        assert 8 <= local.hour < 20, f"sent in quiet hours: {local}"


async def test_bad_events_are_rejected_in_the_log_and_the_lead_carries_on(lead: Journey) -> None:
    await lead.event("page_viewed", topics=["heart_failure"])
    unknown = await lead.raw_event("brochure_printed")
    bad = await lead.raw_event("email_bounced", bounce_type="sideways")
    odd = await lead.raw_event("email_clicked", topics=7)
    await lead.days(1)
    state = await lead.state()
    rejected = {d.trigger: d.outcome for d in state.decisions if d.rule_id == "event.rejected"}
    assert rejected == {
        f"event:{unknown}": "rejected: type: unknown event type 'brochure_printed'",
        f"event:{bad}": "rejected: properties.bounce_type: Input should be 'hard' or 'soft'",
        f"event:{odd}": "rejected: properties.topics: Input should be a valid list",
    }
    assert "stop.hard_bounce" not in state.stops
    assert len(lead.emails()) == 1  # the lead's nurture went on


async def test_medical_question_is_not_scored_and_its_text_stays_out(lead: Journey) -> None:
    await lead.event("page_viewed", topics=["heart_failure"])
    before = await lead.state()
    await lead.event("medical_question", text="Patient had dizziness after the first dose")
    after = await lead.state()
    assert after.score.engagement == before.score.engagement
    assert after.stage is before.stage
    assert "dizziness" not in after.model_dump_json()


@pytest.mark.program()  # a copy of its own: the test edits it
async def test_program_changes_apply_to_running_leads_and_a_broken_edit_is_survived(
    lead: Journey, settings: Settings
) -> None:
    program_file = settings.program
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.days(1)
    assert lead.assets_emailed() == ["CVT-EVD-210"]

    raw = yaml.safe_load(program_file.read_text())
    raw["version"] = "2026.12.1"
    for asset in raw["assets"]:
        if asset["id"] == "CVT-EVT-300":
            asset["status"] = "withdrawn"  # MLR withdrew the webinar invitation
    program_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    await lead.days(8)  # past the next touch (5 days on, moved off the weekend)
    assert lead.assets_emailed() == ["CVT-EVD-210"]  # the withdrawn asset never goes out

    program_file.write_text("version: [this is not a program")
    await lead.event("content_downloaded", asset_id="CVT-PRA-400", topics=["dosing"])
    await lead.days(10)  # the next touch (solution-fit) finds the program file broken
    state = await lead.state()

    rules = [d.rule_id for d in state.decisions]
    assert "program.updated" in rules and "program.rejected" in rules
    assert state.program_version == "2026.12.1"
    blocked = [d.outcome for d in state.decisions if d.rule_id == "touch.blocked"]
    assert blocked[0] == "not sent: asset status is withdrawn"
    assert blocked[1].startswith("not sent: program unusable:")  # no send without the catalog
    assert lead.assets_emailed() == ["CVT-EVD-210"]
    assert state.decisions[-1].program_version == "2026.12.1"


async def test_a_consent_grant_older_than_the_opt_out_does_not_undo_it(lead: Journey) -> None:
    await lead.event("content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    await lead.event("unsubscribed", channel="Email")  # services spell channels as they like
    state = await lead.state()
    assert state.stage is Stage.OPTED_OUT
    stale = await lead.raw_event("consent_granted", channel="email")  # happened long before
    state = await lead.state()
    assert state.stage is Stage.OPTED_OUT
    [ignored] = [
        d
        for d in state.decisions
        if d.trigger == f"event:{stale}" and d.rule_id == "restart.ignored"
    ]
    await lead.days(14)
    assert lead.emails() == []
