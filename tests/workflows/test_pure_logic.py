"""Example-based tests of the pure modules the engine is built on: cadence, scoring, stages and
tracks, each against the sample program's real numbers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.events import LeadEvent, LeadFacts
from models.lead_state import Engagement, EngagementCarry, LeadState, Stage, TouchRecord
from models.nurture import Cadence, Cap, QuietHours
from models.program import load_program
from starter.settings import SAMPLE_PROGRAM
from workflows import cadence, scoring, stages, tracks
from workflows.engine import LeadEngine

PROGRAM = load_program(SAMPLE_PROGRAM)
CADENCE = PROGRAM.cadence  # quiet 20:00-08:00, no weekends, caps 2/7d and 5/30d
SCORING = PROGRAM.scoring
CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in `zone`, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def lead(time_zone: str | None = "America/Chicago", **facts: str) -> LeadState:
    return LeadState(lead_id="ld_x", facts=LeadFacts(time_zone=time_zone, **facts))


# -- cadence: quiet hours and weekends ----------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (8, 0, False),
        (12, 0, False),
        (19, 59, False),
        (20, 0, True),
        (23, 59, True),
        (0, 0, True),
        (3, 30, True),
        (7, 59, True),
    ],
)
def test_quiet_hours_wrap_midnight(hour: int, minute: int, quiet: bool) -> None:
    at = local(CHICAGO, 2026, 11, 24, hour, minute)  # a Tuesday
    reason = cadence.quiet_reason(at, CHICAGO, CADENCE)
    assert (reason is not None) is quiet
    if quiet:
        assert reason == f"quiet hours in America/Chicago ({hour:02}:{minute:02})"


def test_quiet_hours_that_do_not_wrap_hold_only_inside_the_window() -> None:
    lunch = CADENCE.model_copy(update={"quiet_hours": QuietHours(start=time(12), end=time(13))})
    assert cadence.quiet_reason(local(CHICAGO, 2026, 11, 24, 11, 59), CHICAGO, lunch) is None
    assert cadence.quiet_reason(local(CHICAGO, 2026, 11, 24, 12, 0), CHICAGO, lunch)
    assert cadence.quiet_reason(local(CHICAGO, 2026, 11, 24, 12, 59), CHICAGO, lunch)
    assert cadence.quiet_reason(local(CHICAGO, 2026, 11, 24, 13, 0), CHICAGO, lunch) is None
    assert cadence.quiet_reason(local(CHICAGO, 2026, 11, 24, 23, 0), CHICAGO, lunch) is None
    # Inside the window, the next sending time is the same day's end of it.
    at = local(CHICAGO, 2026, 11, 24, 12, 30)
    assert cadence.next_sending_time(at, CHICAGO, lunch) == local(CHICAGO, 2026, 11, 24, 13, 0)


def test_weekends_are_in_the_lead_s_time_zone() -> None:
    friday_evening_utc = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # Sat 08:30 in Tokyo
    assert cadence.quiet_reason(friday_evening_utc, CHICAGO, CADENCE) is None  # Fri 17:30
    assert cadence.quiet_reason(friday_evening_utc, TOKYO, CADENCE) == (
        "weekend in Asia/Tokyo (Sat 08:30)"
    )
    weekends_ok = CADENCE.model_copy(update={"send_on_weekends": True})
    assert cadence.quiet_reason(friday_evening_utc, TOKYO, weekends_ok) is None


@pytest.mark.parametrize(
    "at",
    [
        (2026, 11, 27, 20, 0),  # Friday evening
        (2026, 11, 28, 3, 0),  # Saturday night
        (2026, 11, 28, 10, 0),  # Saturday daytime: not quiet, but weekend
        (2026, 11, 29, 23, 0),  # Sunday evening
        (2026, 11, 30, 7, 59),  # Monday before opening
    ],
)
def test_the_window_reopens_on_monday_morning(at: tuple[int, int, int, int, int]) -> None:
    opening = cadence.next_sending_time(local(CHICAGO, *at), CHICAGO, CADENCE)
    assert opening == local(CHICAGO, 2026, 11, 30, 8, 0)


def test_an_open_moment_is_its_own_next_sending_time() -> None:
    at = local(CHICAGO, 2026, 11, 24, 10, 17)
    assert cadence.next_sending_time(at, CHICAGO, CADENCE) == at


def test_week_of_the_autumn_clock_change_in_new_york() -> None:
    # Clocks go back on Sunday 2026-11-01 at 02:00 (EDT, UTC-4 -> EST, UTC-5).
    friday_night = local(NEW_YORK, 2026, 10, 30, 21, 0)
    assert friday_night == datetime(2026, 10, 31, 1, 0, tzinfo=UTC)
    monday_opening = cadence.next_sending_time(friday_night, NEW_YORK, CADENCE)
    assert monday_opening == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)  # 08:00 EST
    # The same UTC clock time is inside the window before the change and quiet after it.
    assert (
        cadence.quiet_reason(datetime(2026, 10, 30, 12, 30, tzinfo=UTC), NEW_YORK, CADENCE) is None
    )
    assert cadence.quiet_reason(datetime(2026, 11, 2, 12, 30, tzinfo=UTC), NEW_YORK, CADENCE) == (
        "quiet hours in America/New_York (07:30)"
    )
    assert cadence.next_sending_time(
        datetime(2026, 11, 2, 12, 30, tzinfo=UTC), NEW_YORK, CADENCE
    ) == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    # The repeated hour (01:00-02:00 happens twice) is on a Sunday: still the weekend.
    ambiguous = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the second time
    assert cadence.quiet_reason(ambiguous, NEW_YORK, CADENCE) == (
        "weekend in America/New_York (Sun 01:30)"
    )


def test_week_of_the_spring_clock_change_in_new_york() -> None:
    # Clocks go forward on Sunday 2026-03-08 at 02:00 (EST -> EDT).
    friday_night = local(NEW_YORK, 2026, 3, 6, 21, 0)
    assert cadence.next_sending_time(friday_night, NEW_YORK, CADENCE) == datetime(
        2026, 3, 9, 12, 0, tzinfo=UTC
    )  # Monday 08:00 EDT
    state = lead("America/New_York")
    planned = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # Sunday 03:30 EDT, just after the gap
    at = cadence.effective_touch_time(planned, state, CADENCE, [], first_touch=False)
    assert at == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


# -- cadence: caps, rest, the effective touch time ----------------------------------------

MONDAY_9 = local(CHICAGO, 2026, 11, 23, 9, 0)


def test_cap_release_waits_for_the_oldest_send_in_the_window_to_age_out() -> None:
    sent = [MONDAY_9, MONDAY_9 + timedelta(days=1)]
    release = cadence.cap_release(sent, CADENCE.caps, MONDAY_9 + timedelta(days=2))
    assert release == MONDAY_9 + timedelta(days=7)  # the window is (t - 7d, t]
    assert cadence.cap_reason(sent, CADENCE.caps, release) is None
    assert cadence.cap_reason(sent, CADENCE.caps, release - timedelta(microseconds=1)) == (
        "cap 2 per 7 days, 0:00:00 reached (2 sent)"
    )


def test_cap_release_leaves_an_uncapped_time_alone() -> None:
    sent = [MONDAY_9]
    at = MONDAY_9 + timedelta(hours=1)
    assert cadence.cap_release(sent, CADENCE.caps, at) == at
    assert cadence.cap_release([], CADENCE.caps, at) == at


def test_cap_release_honours_the_monthly_cap_too() -> None:
    sent = [MONDAY_9 + timedelta(days=d) for d in (0, 6, 12, 18, 24)]  # 5 in 30 days
    at = MONDAY_9 + timedelta(days=25)
    release = cadence.cap_release(sent, CADENCE.caps, at)
    assert release == MONDAY_9 + timedelta(days=30)
    assert cadence.cap_reason(sent, CADENCE.caps, release) is None
    assert cadence.cap_reason(sent, CADENCE.caps, release - timedelta(seconds=1))


def test_cap_release_with_several_caps_satisfies_all_of_them() -> None:
    caps = [Cap(window=timedelta(days=1), max_sends=1), Cap(window=timedelta(days=3), max_sends=2)]
    sent = [MONDAY_9, MONDAY_9 + timedelta(days=2)]
    release = cadence.cap_release(sent, caps, MONDAY_9 + timedelta(days=2, hours=1))
    assert release == MONDAY_9 + timedelta(days=3)
    assert cadence.cap_reason(sent, caps, release) is None


def test_effective_touch_time_waits_out_the_rest_then_the_window() -> None:
    state = lead()
    state.rest_until = local(CHICAGO, 2026, 11, 27, 21, 0)  # Friday 21:00
    planned = local(CHICAGO, 2026, 11, 24, 10, 0)  # Tuesday 10:00
    at = cadence.effective_touch_time(planned, state, CADENCE, [], first_touch=False)
    assert at == local(CHICAGO, 2026, 11, 30, 8, 0)  # Monday 08:00
    assert cadence.send_blocker(state, CADENCE, [], at, first_touch=False) is None
    assert cadence.send_blocker(state, CADENCE, [], planned, first_touch=False) == (
        f"resting until {state.rest_until.isoformat()}"
    )


def test_an_eager_first_touch_waits_for_the_rest_but_not_for_the_window() -> None:
    state = lead()
    state.rest_until = local(CHICAGO, 2026, 11, 27, 21, 0)
    planned = local(CHICAGO, 2026, 11, 24, 10, 0)
    at = cadence.effective_touch_time(planned, state, CADENCE, [], first_touch=True)
    assert at == state.rest_until
    strict = CADENCE.model_copy(update={"first_touch_respects_quiet_hours": True})
    at = cadence.effective_touch_time(planned, state, strict, [], first_touch=True)
    assert at == local(CHICAGO, 2026, 11, 30, 8, 0)


def test_effective_touch_time_settles_caps_and_windows_together() -> None:
    state = lead()
    # Two sends in the week before a touch planned on Friday 19:30: the weekly cap frees it
    # 7 days after the earlier send, and the sending window may then push it further.
    friday = local(CHICAGO, 2026, 11, 20, 19, 30)
    sent = [friday - timedelta(days=2), friday + timedelta(minutes=1)]
    at = cadence.effective_touch_time(friday, state, CADENCE, sent, first_touch=False)
    # Freed Wednesday 25th 19:30 (the send of the 18th + 7d), inside the window.
    assert at == local(CHICAGO, 2026, 11, 25, 19, 30)
    sent = [friday - timedelta(days=2, minutes=-40), friday + timedelta(minutes=1)]
    at = cadence.effective_touch_time(friday, state, CADENCE, sent, first_touch=False)
    # Freed Wednesday 25th 20:10, in quiet hours: so Thursday 08:00.
    assert at == local(CHICAGO, 2026, 11, 26, 8, 0)
    assert cadence.send_blocker(state, CADENCE, sent, at, first_touch=False) is None


def test_an_unknown_time_zone_falls_back_to_the_program_default() -> None:
    assert cadence.zone_for(lead("Mars/Olympus_Mons"), CADENCE).key == "America/New_York"
    assert cadence.zone_for(lead(None), CADENCE).key == "America/New_York"
    assert cadence.zone_for(lead("Asia/Tokyo"), CADENCE).key == "Asia/Tokyo"
    no_default = Cadence(first_touch_delay=timedelta(0), default_time_zone="UTC")
    assert cadence.zone_for(lead(None), no_default).key == "UTC"


# -- scoring ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
HCP = LeadFacts(role="Physician", specialty="Cardiology", org_type="hospital", country="us")


def test_fit_breakdown_names_every_fact_that_added_points() -> None:
    fit, items = scoring.fit_score(HCP, ["heart_failure", "evidence", "webinar"], SCORING)
    assert [(i.source, i.points) for i in items] == [
        ("role=physician", 25),
        ("specialty=cardiology", 20),
        ("org_type=hospital", 10),
        ("therapy_area_interest=evidence,heart_failure", 10),
        ("territory=US", 10),
    ]
    assert fit == 75


def test_fit_normalises_facts_and_ignores_unknown_values() -> None:
    facts = LeadFacts(role="dentist", specialty="Internal Medicine", org_type=None, country="CA")
    fit, items = scoring.fit_score(facts, [], SCORING)
    assert [(i.source, i.points) for i in items] == [("specialty=internal_medicine", 12)]
    assert fit == 12


def _engaged(points: int = 40) -> list[Engagement]:
    return [Engagement(event_id="e1", type="webinar_attended", at=NOW, points=points)]


def test_a_qualified_hcp_is_an_mql() -> None:
    result = scoring.score(HCP, ["evidence"], _engaged(), EngagementCarry(), SCORING, NOW)
    assert result.fit == 75 and result.engagement == 40
    assert result.disqualified_by == []
    assert result.mql is True


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"role": "student"}, "role=student"),
        ({"role": "Patient"}, "role=patient"),
        ({"org_type": "competitor"}, "org_type=competitor"),
        ({"country": "DE"}, "out_of_territory=DE"),
    ],
)
def test_disqualifiers_block_mql_whatever_the_scores(changes: dict[str, str], reason: str) -> None:
    facts = HCP.model_copy(update=changes)
    assert scoring.disqualifiers(facts, SCORING) == [reason]
    result = scoring.score(facts, ["evidence"], _engaged(500), EngagementCarry(), SCORING, NOW)
    assert result.fit >= SCORING.thresholds.fit
    assert result.engagement >= SCORING.thresholds.engagement
    assert result.disqualified_by == [reason]
    assert result.mql is False


def test_several_disqualifiers_are_all_named() -> None:
    facts = HCP.model_copy(update={"role": "student", "org_type": "competitor", "country": "FR"})
    assert scoring.disqualifiers(facts, SCORING) == [
        "role=student",
        "org_type=competitor",
        "out_of_territory=FR",
    ]


def test_an_unknown_country_is_not_out_of_territory() -> None:
    assert scoring.disqualifiers(HCP.model_copy(update={"country": None}), SCORING) == []


def test_engagement_halves_after_one_half_life() -> None:
    half_life = SCORING.half_life
    assert scoring.decayed(10, half_life, half_life) == pytest.approx(5)
    assert scoring.decayed(10, 2 * half_life, half_life) == pytest.approx(2.5)
    assert scoring.decayed(10, timedelta(0), half_life) == 10
    assert scoring.decayed(10, -half_life, half_life) == 10  # never grows
    later = scoring.score(HCP, [], _engaged(40), EngagementCarry(), SCORING, NOW + half_life)
    assert later.engagement == 20
    assert later.engagement_breakdown[0].source == "event:e1 webinar_attended"
    assert later.mql is False  # 20 < 30: decay alone drops the lead below the threshold


def test_event_points_add_each_topic_bonus_once() -> None:
    assert scoring.event_points("content_downloaded", ["evidence", "dosing"], SCORING) == 16
    assert scoring.event_points("content_downloaded", ["evidence", "evidence"], SCORING) == 13
    assert scoring.event_points("page_viewed", ["mechanism_of_action"], SCORING) == 2
    assert scoring.event_points("medical_question", ["evidence"], SCORING) == 0
    assert scoring.event_points("unsubscribed", [], SCORING) == 0


def test_folding_old_engagement_into_the_carry_keeps_the_total_exact() -> None:
    rng = random.Random(20261123)
    half_life = SCORING.half_life
    engagements: list[Engagement] = []
    carry = EngagementCarry()
    history: list[Engagement] = []
    at = NOW
    for n in range(260):
        at += timedelta(minutes=rng.choice([0, 0, 5, 90, 600, 3000]))  # ties included
        item = Engagement(event_id=f"e{n}", type="page_viewed", at=at, points=rng.randint(1, 25))
        history.append(item)
        carry = scoring.add_engagement(engagements, carry, item, half_life)
    assert len(engagements) == scoring.ENGAGEMENTS_KEPT
    assert carry.events == len(history) - scoring.ENGAGEMENTS_KEPT
    assert engagements == history[-scoring.ENGAGEMENTS_KEPT :]
    for now in (at, at + timedelta(days=3), at + 5 * half_life):
        assert carry.as_of is not None
        kept = sum(scoring.decayed(e.points, now - e.at, half_life) for e in engagements)
        folded = scoring.decayed(carry.points, now - carry.as_of, half_life)
        exact = sum(scoring.decayed(e.points, now - e.at, half_life) for e in history)
        assert folded + kept == pytest.approx(exact, abs=1e-6)
        total, items = scoring.engagement_score(engagements, carry, now, half_life)
        earlier = len(history) - scoring.BREAKDOWN_LINES  # folded, plus kept but not itemised
        assert items[0].source == f"earlier behaviour ({earlier} events)"
        assert len(items) == scoring.BREAKDOWN_LINES + 1
        # The breakdown rounds each line to cents; the total is their sum.
        assert total == pytest.approx(exact, abs=0.005 * len(items))


# -- stages -------------------------------------------------------------------------------


def test_opted_out_may_not_become_an_mql() -> None:
    assert not stages.can_move(Stage.OPTED_OUT, Stage.MQL)
    engine = LeadEngine(LeadState(lead_id="ld_x", stage=Stage.OPTED_OUT), PROGRAM)
    assert engine.move_stage(NOW, "test", Stage.MQL, "score.mql") is False
    assert engine.state.stage is Stage.OPTED_OUT
    refused = engine.state.decisions[-1]
    assert refused.rule_id == "stage.refused"
    assert refused.outcome == "refused opted_out -> mql"
    assert refused.inputs == {"requested_by": "score.mql"}


def test_leaving_opted_out_returns_to_nurture_or_the_sales_stage_reached() -> None:
    assert stages.ALLOWED[Stage.OPTED_OUT] == {
        Stage.ENGAGED,
        Stage.NURTURING,
        Stage.HANDED_OFF,
        Stage.SALES_ACCEPTED,
        Stage.MEETING_SET,
        Stage.CLOSED,
        Stage.RECYCLED,
        Stage.DISQUALIFIED,
    }
    assert Stage.MQL not in stages.ALLOWED[Stage.OPTED_OUT]  # only scoring makes an MQL


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.OPTED_OUT])
def test_an_opt_out_is_honoured_from_every_stage(stage: Stage) -> None:
    assert stages.can_move(stage, Stage.OPTED_OUT)  # DOMAIN 14: at once


def test_a_meeting_is_set_only_from_a_qualified_lead() -> None:
    assert not stages.can_move(Stage.NEW, Stage.MEETING_SET)
    assert not stages.can_move(Stage.NURTURING, Stage.MEETING_SET)
    assert stages.can_move(Stage.MQL, Stage.MEETING_SET)
    assert not stages.can_move(Stage.DISQUALIFIED, Stage.MQL)


def test_a_legal_move_is_logged_and_the_same_stage_is_no_move() -> None:
    engine = LeadEngine(LeadState(lead_id="ld_x"), PROGRAM)
    assert engine.move_stage(NOW, "test", Stage.NEW, "noop") is False
    assert engine.state.decisions == []
    assert engine.move_stage(NOW, "test", Stage.ENGAGED, "stage.first_engagement") is True
    assert engine.state.decisions[-1].outcome == "stage new -> engaged"


# -- tracks -------------------------------------------------------------------------------


def page_view(n: int, topic: str, role: str = "physician") -> tuple[LeadEvent, LeadFacts]:
    facts = LeadFacts(role=role)
    event = LeadEvent(
        event_id=f"pv-{n}",
        type="page_viewed",
        occurred_at=NOW,
        lead=facts,
        properties={"topics": [topic]},
    )
    return event, facts


def test_count_at_least_fires_exactly_once_on_the_third_matching_page_view() -> None:
    hits: dict[str, int] = {}
    topics = ["mechanism_of_action", "dosing", "endpoints", "heart_failure"]
    topics += ["mechanism_of_action", "endpoints", "mechanism_of_action"]
    fired = []
    for n, topic in enumerate(topics):
        event, facts = page_view(n, topic)
        rule = tracks.match_track_rule(PROGRAM.tracks.rules, event, facts, hits)
        fired.append(rule.id if rule else None)
    # Matching views are the 1st, 3rd, 5th, 6th and 7th; the rule fires on the 5th event.
    assert fired == [None, None, None, None, "track.evidence_interest", None, None]
    assert hits == {"track.evidence_interest": 5}


def test_the_first_matching_rule_wins_but_every_matching_rule_counts() -> None:
    hits: dict[str, int] = {}
    facts = LeadFacts(role="physician")
    download = LeadEvent(
        event_id="d1",
        type="content_downloaded",
        occurred_at=NOW,
        lead=facts,
        properties={"topics": ["dosing", "evidence"]},
    )
    rule = tracks.match_track_rule(PROGRAM.tracks.rules, download, facts, hits)
    assert rule is not None and rule.id == "track.dosing_guide"
    assert hits == {"track.dosing_guide": 1, "track.evidence_download": 1}
    # A consumer is not a treating clinician: the dosing rule does not match them.
    consumer = LeadFacts(role="consumer")
    rule = tracks.match_track_rule(PROGRAM.tracks.rules, download, consumer, {})
    assert rule is not None and rule.id == "track.evidence_download"


def test_track_rules_normalise_roles_like_scoring_does() -> None:
    facts = LeadFacts(role="Nurse-Practitioner")
    fit, _ = scoring.fit_score(facts, [], SCORING)
    assert fit == 20  # scoring knows the role
    download = LeadEvent(
        event_id="d1",
        type="content_downloaded",
        occurred_at=NOW,
        lead=facts,
        properties={"topics": ["dosing"]},
    )
    rule = tracks.match_track_rule(PROGRAM.tracks.rules, download, facts, {})
    assert rule is not None and rule.id == "track.dosing_guide"


def _sent(asset_id: str, status: str = "sent") -> TouchRecord:
    return TouchRecord(touch_id=f"t-{asset_id}", asset_id=asset_id, status=status, at=NOW)


def test_next_asset_follows_the_track_order_skipping_what_was_tried() -> None:
    state = LeadState(lead_id="ld_x", track="education-first")
    assert tracks.next_asset(state, PROGRAM) == "CVT-EDU-100"
    state.touches.append(_sent("CVT-EDU-100"))
    assert tracks.next_asset(state, PROGRAM) == "CVT-EVD-200"
    state.consumed_assets.append("CVT-EVD-200")  # downloaded it themselves
    assert tracks.next_asset(state, PROGRAM) == "CVT-EVD-210"
    state.touches.append(_sent("CVT-EVD-210", status="blocked"))  # refused at send time
    assert tracks.next_asset(state, PROGRAM) is None


def test_a_rule_s_next_asset_goes_first_unless_already_tried() -> None:
    state = LeadState(lead_id="ld_x", track="education-first", next_asset="CVT-EVT-300")
    assert tracks.next_asset(state, PROGRAM) == "CVT-EVT-300"
    state.touches.append(_sent("CVT-EVT-300"))
    assert tracks.next_asset(state, PROGRAM) == "CVT-EDU-100"


def test_no_track_means_no_asset_unless_a_rule_named_one() -> None:
    assert tracks.next_asset(LeadState(lead_id="ld_x"), PROGRAM) is None
    assert tracks.next_asset(LeadState(lead_id="ld_x", track="no-such-track"), PROGRAM) is None
    named = LeadState(lead_id="ld_x", next_asset="CVT-EVD-210")
    assert tracks.next_asset(named, PROGRAM) == "CVT-EVD-210"
