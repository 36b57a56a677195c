"""Property tests of the pure decision core: random event, pause and clock sequences are driven
through `LeadEngine` exactly as `LeadWorkflow` drives it (wake at `wake_at()`, resume a pause
that ran out, attempt a due touch), without Temporal, and the compliance and cadence
invariants of DOMAIN 11-17 and 23-25 are checked on what happened."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import EventType, LeadEvent, LeadFacts
from models.lead_state import (
    EventOutcome,
    LeadState,
    PauseRequest,
    ResumeRequest,
    Score,
    SendTouchResult,
    Stage,
)
from models.program import Program, load_program
from starter.settings import SAMPLE_PROGRAM
from workflows import scoring, stages
from workflows.engine import LeadEngine
from workflows.touches import TouchOrder

E = EventType
SAMPLE = load_program(SAMPLE_PROGRAM)


def variant(name: str, change: Callable[[dict[str, Any]], None]) -> Program:
    raw = yaml.safe_load(SAMPLE_PROGRAM.read_text(encoding="utf-8"))
    raw["version"] = f"{raw['version']}-{name}"
    change(raw)
    return Program.model_validate(raw)


def _strict(raw: dict[str, Any]) -> None:
    raw["cadence"]["first_touch_respects_quiet_hours"] = True


def _busy(raw: dict[str, Any]) -> None:
    for track in raw["tracks"]["definitions"].values():
        track["interval"] = "PT20H"
    raw["tracks"]["silence"]["after_sends"] = 6
    raw["cadence"]["after_click"] = "PT6H"


# The sample; the same with a first touch that waits for the sending window like any other; and
# one that sends daily, so that its rolling caps (2 a week, 5 a month) bind all the time.
STRICT = variant("strict", _strict)
BUSY = variant("busy", _busy)
PROGRAMS = {"sample": SAMPLE, "strict-first-touch": STRICT, "busy": BUSY}

INTEREST = SAMPLE.scoring.fit.therapy_area_interest
TOPICS = sorted(
    {
        *(INTEREST.topics if INTEREST else []),
        *SAMPLE.scoring.topic_bonus,
        *(topic for asset in SAMPLE.assets for topic in asset.topics),
    }
)
ASSET_IDS = [asset.id for asset in SAMPLE.assets]
ZONES = [
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Tokyo",
]
FOREVER = datetime.max.replace(tzinfo=UTC)
WAKE_LIMIT = 500  # loop iterations per clock advance before we call it a busy loop

# Behaviours that score come often, so that tracks, touches, caps and MQL are reached; the
# compliance events less often; every other type (stops, intent, medical) now and then.
BEHAVIOURS = [
    E.PAGE_VIEWED,
    E.PAGE_VIEWED,
    E.CONTENT_DOWNLOADED,
    E.CONTENT_DOWNLOADED,
    E.EMAIL_OPENED,
    E.EMAIL_CLICKED,
    E.WEBINAR_REGISTERED,
    E.WEBINAR_ATTENDED,
    E.FORM_SUBMITTED,
    E.INFO_REQUESTED,
]
COMPLIANCE = [E.UNSUBSCRIBED, E.CONSENT_WITHDRAWN, E.CONSENT_GRANTED, E.CONSENT_GRANTED]
event_types = st.one_of(
    st.sampled_from(BEHAVIOURS),
    st.sampled_from(BEHAVIOURS),
    st.sampled_from(BEHAVIOURS),
    st.sampled_from(BEHAVIOURS),
    st.sampled_from(COMPLIANCE),
    st.sampled_from([E.MEETING_BOOKED, E.MEDICAL_QUESTION, *E]),
)
TOPIC_EVENTS = {
    E.PAGE_VIEWED,
    E.CONTENT_DOWNLOADED,
    E.WEBINAR_REGISTERED,
    E.WEBINAR_ATTENDED,
    E.EVENT_ATTENDED,
}
PROMOTIONAL = {None, "promotional"}

Step = tuple[Any, ...]


# -- strategies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    role: str | None
    specialty: str | None
    org_type: str | None
    country: str | None
    time_zone: str | None


profiles = st.builds(
    Profile,
    role=st.sampled_from(["physician", "physician", "nurse", "pharmacist", "student", None]),
    specialty=st.sampled_from(["cardiology", "cardiology", "nephrology", None]),
    org_type=st.sampled_from(["hospital", "clinic", "competitor", None]),
    country=st.sampled_from(["US", "US", "US", "CA", None]),
    time_zone=st.sampled_from([*ZONES, None]),
)


@st.composite
def event_steps(draw: st.DrawFn) -> Step:
    etype = draw(event_types)
    props: dict[str, Any] = {}
    if etype is E.UNSUBSCRIBED:
        if draw(st.booleans()):
            props["channel"] = "email"
    elif etype in (E.CONSENT_WITHDRAWN, E.CONSENT_GRANTED):
        props["channel"] = "email"
        purpose = draw(st.sampled_from([None, "promotional", "medical"]))
        if purpose is not None:
            props["purpose"] = purpose
    elif etype in TOPIC_EVENTS:
        props["topics"] = draw(st.lists(st.sampled_from(TOPICS), max_size=3, unique=True))
        if etype is E.CONTENT_DOWNLOADED and draw(st.booleans()):
            props["asset_id"] = draw(st.sampled_from(ASSET_IDS))
    elif etype is E.EMAIL_BOUNCED:
        props["bounce_type"] = draw(st.sampled_from(["hard", "soft"]))
    elif etype in (E.EMAIL_OPENED, E.EMAIL_CLICKED):
        props["message_id"] = "<m-1@leadflow.example>"
    elif etype in (E.MEDICAL_QUESTION, E.TRIAL_QUESTION):
        props["text"] = "Is it safe with spironolactone?"
    zone = draw(st.sampled_from([None, None, None, None, *ZONES]))  # mostly: the profile's
    return ("event", etype.value, props, zone)


durations = st.one_of(
    st.integers(1, 59).map(lambda m: timedelta(minutes=m)),
    st.integers(1, 48).map(lambda h: timedelta(hours=h)),
    st.integers(1, 21).map(lambda d: timedelta(days=d)),
    st.integers(1, 6).map(lambda w: timedelta(weeks=w)),
)
advance_steps = st.tuples(st.just("advance"), durations)
pause_steps = st.tuples(st.just("pause"), st.one_of(st.none(), durations))
resume_steps = st.tuples(st.just("resume"))
dup_steps = st.tuples(st.just("dup"), st.integers(0, 1_000))

steps = st.lists(
    st.one_of(
        event_steps(),
        event_steps(),
        event_steps(),
        advance_steps,
        advance_steps,
        pause_steps,
        resume_steps,
        dup_steps,
    ),
    min_size=10,
    max_size=60,
)
starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
programs = st.sampled_from(sorted(PROGRAMS))


# -- the driver -------------------------------------------------------------------------------


@dataclass
class Sent:
    at: datetime
    order: TouchOrder
    zone: str
    earlier_sends: int
    opted_out: bool
    paused_until: datetime | None


@dataclass
class ObjectedEvent:
    event_id: str
    outcome: EventOutcome
    engagements_before: int
    engagements_after: int
    carry_before: dict[str, Any]
    carry_after: dict[str, Any]


@dataclass
class Duplicate:
    event_id: str
    outcome: EventOutcome
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class Sim:
    """The workflow's loop around the engine, with an oracle of what is in force."""

    program: Program
    profile: Profile
    now: datetime
    engine: LeadEngine = field(init=False)
    events: list[LeadEvent] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    objected: list[ObjectedEvent] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    score_checks: list[tuple[Score, Score]] = field(default_factory=list)
    # The oracle, kept from the steps alone (not from the engine's state).
    opted_out: bool = False
    paused_until: datetime | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        self.engine = LeadEngine(LeadState(lead_id="ld_x"), self.program)
        self.zone = self.profile.time_zone

    @property
    def state(self) -> LeadState:
        return self.engine.state

    def run(self, plan: list[Step]) -> Sim:
        for step in plan:
            getattr(self, f"_{step[0]}")(*step[1:])
        return self

    # one iteration of LeadWorkflow.run's loop, at self.now
    def tick(self) -> None:
        engine, now = self.engine, self.now
        engine.resume_if_due(now)
        if self.paused_until is not None and self.paused_until <= now:
            self.paused_until = None
        due = self.state.next_touch_at
        if due is None or due > now:
            return
        order = engine.begin_touch(now)
        if order is None:
            return
        self.sent.append(
            Sent(
                at=now,
                order=order,
                zone=self.zone or self.program.cadence.default_time_zone,
                earlier_sends=len(self.sent),
                opted_out=self.opted_out,
                paused_until=self.paused_until,
            )
        )
        engine.finish_touch(
            order,
            SendTouchResult(
                status="sent",
                asset_id=order.asset_id,
                asset_version="1",
                message_id=f"<{order.touch_id}@leadflow.example>",
            ),
            now,
        )

    def _advance(self, delta: timedelta) -> None:
        target = self.now + delta
        for _ in range(WAKE_LIMIT):
            wake = self.engine.wake_at()
            if wake is None or wake > target:
                break
            self.now = max(self.now, wake)
            self.tick()
        else:
            raise AssertionError(f"the lead never goes back to sleep at {self.now}")
        self.now = target

    def _event(self, etype: str, props: dict[str, Any], zone: str | None) -> None:
        p = self.profile
        event = LeadEvent(
            event_id=f"evt-{len(self.events)}",
            type=etype,
            occurred_at=self.now,
            lead=LeadFacts(
                role=p.role,
                specialty=p.specialty,
                org_type=p.org_type,
                country=p.country,
                time_zone=zone or p.time_zone,
            ),
            properties={k: list(v) if isinstance(v, list) else v for k, v in props.items()},
        )
        self.events.append(event)
        objecting_before = self.opted_out
        self._update_oracle(E(etype), props)
        lifted = objecting_before and not self.opted_out
        if zone or p.time_zone:
            self.zone = zone or p.time_zone
        state = self.state
        engagements, carry = len(state.engagements), state.engagement_carry.model_dump()
        score_before = state.score.model_copy(deep=True)
        outcome = self.engine.apply_event(event, self.now)
        if objecting_before and not lifted:
            self.objected.append(
                ObjectedEvent(
                    event.event_id,
                    outcome,
                    engagements,
                    len(state.engagements),
                    carry,
                    state.engagement_carry.model_dump(),
                )
            )
        if outcome.status == "accepted":
            # Rescored now, from what the state keeps: the same inputs give the same score.
            recomputed = scoring.score(
                state.facts,
                state.topics_seen,
                state.engagements,
                state.engagement_carry,
                self.program.scoring,
                self.now,
            )
            self.score_checks.append((recomputed, state.score.model_copy(deep=True)))
        else:
            self.score_checks.append((score_before, state.score.model_copy(deep=True)))
        self.tick()

    def _update_oracle(self, etype: EventType, props: dict[str, Any]) -> None:
        channel, purpose = props.get("channel"), props.get("purpose")
        if (
            (etype is E.UNSUBSCRIBED and channel in (None, "email"))
            or (etype is E.CONSENT_WITHDRAWN and channel == "email" and purpose in PROMOTIONAL)
            or etype is E.SPAM_COMPLAINT
        ):
            self.opted_out = True
        elif etype is E.CONSENT_GRANTED and channel == "email" and purpose in PROMOTIONAL:
            self.opted_out = False

    def _dup(self, index: int) -> None:
        if not self.events:
            return
        event = self.events[index % len(self.events)]
        before = self.state.model_dump()
        outcome = self.engine.apply_event(event.model_copy(deep=True), self.now)
        self.duplicates.append(Duplicate(event.event_id, outcome, before, self.state.model_dump()))
        self.tick()

    def _pause(self, length: timedelta | None) -> None:
        until = self.now + length if length else None
        self.engine.pause(PauseRequest(by="rep-1", reason="talking to them", until=until), self.now)
        self.paused_until = until or FOREVER
        self.tick()

    def _resume(self) -> None:
        self.engine.resume(ResumeRequest(by="rep-1"), self.now)
        self.paused_until = None
        self.tick()


def simulate(program: str, profile: Profile, start: datetime, plan: list[Step]) -> Sim:
    return Sim(PROGRAMS[program], profile, start).run(plan)


def with_long_tail(plan: list[Step]) -> list[Step]:
    """Let every pending touch play out after the steps (a touch deferred for weeks included)."""
    return [*plan, ("advance", timedelta(weeks=8))]


# -- properties -------------------------------------------------------------------------------

FAST = settings(max_examples=120, deadline=None)


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_no_touch_while_an_opt_out_is_in_force(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, with_long_tail(plan))
    offending = [s for s in sim.sent if s.opted_out]
    assert not offending, f"sent {[(s.at, s.order.asset_id) for s in offending]} after opt-out"


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_no_touch_while_paused(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, with_long_tail(plan))
    offending = [s for s in sim.sent if s.paused_until is not None and s.at < s.paused_until]
    assert not offending, f"sent {[(s.at, s.paused_until) for s in offending]} while paused"


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_rolling_caps_are_never_exceeded(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, with_long_tail(plan))
    times = [s.at for s in sim.sent]
    assert times == sorted(times)
    for t in times:
        for cap in sim.program.cadence.caps:
            in_window = [u for u in times if t - cap.window < u <= t]
            assert len(in_window) <= cap.max_sends, (cap, in_window)


def outside_sending_window(at: datetime, zone: str, program: Program) -> str | None:
    cadence = program.cadence
    local = at.astimezone(ZoneInfo(zone))
    if not cadence.send_on_weekends and local.weekday() >= 5:
        return f"weekend {local:%a %H:%M} in {zone}"
    quiet, clock = cadence.quiet_hours, local.time()
    if quiet is not None:
        wraps = quiet.start > quiet.end
        inside = (
            (clock >= quiet.start or clock < quiet.end)
            if wraps
            else quiet.start <= clock < quiet.end
        )
        if inside:
            return f"quiet hours {local:%a %H:%M} in {zone}"
    return None


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_no_send_in_quiet_hours_or_weekends_except_an_eager_first_touch(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, with_long_tail(plan))
    eager_first = not sim.program.cadence.first_touch_respects_quiet_hours
    for sent in sim.sent:
        if sent.earlier_sends == 0 and eager_first:
            continue
        why = outside_sending_window(sent.at, sent.zone, sim.program)
        assert why is None, f"touch {sent.order.touch_id} at {sent.at.isoformat()}: {why}"


STAGE_MOVE = re.compile(r"^stage (\w+) -> (\w+)$")
STAGE_REFUSED = re.compile(r"^refused (\w+) -> (\w+)$")


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_only_legal_stage_transitions(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, with_long_tail(plan))
    current = Stage.NEW
    for decision in sim.state.decisions:
        if decision.rule_id == "stage.refused":
            refused = STAGE_REFUSED.match(decision.outcome)
            assert refused, decision
            assert Stage(refused[1]) is current, f"refusal left {current}: {decision}"
            assert not stages.can_move(current, Stage(refused[2]))
            continue
        moved = STAGE_MOVE.match(decision.outcome)
        if moved is None:
            continue
        before, after = Stage(moved[1]), Stage(moved[2])
        assert before is current, f"{decision} does not start from {current}"
        assert after in stages.ALLOWED[before], f"illegal move {before} -> {after}"
        current = after
    assert current is sim.state.stage


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_scores_are_reproducible_and_the_engine_is_deterministic(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    plan = with_long_tail(plan)
    sim = simulate(program, profile, start, plan)
    for recomputed, recorded in sim.score_checks:
        assert recomputed == recorded
    state = sim.state
    if state.score.as_of is not None:
        again = scoring.score(
            state.facts,
            state.topics_seen,
            state.engagements,
            state.engagement_carry,
            sim.program.scoring,
            state.score.as_of,
        )
        assert again == state.score
    replay = simulate(program, profile, start, plan)
    assert replay.state.model_dump() == sim.state.model_dump()


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_engagement_never_grows_after_an_objection_until_consent_is_granted(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, plan)
    for seen in sim.objected:
        outcome = seen.outcome
        assert outcome.engagement_after <= outcome.engagement_before, seen
        assert seen.engagements_after == seen.engagements_before, seen
        assert seen.carry_after == seen.carry_before, seen


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_a_duplicate_event_only_logs_that_it_was_a_duplicate(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    # Every event is delivered a second time at the end, on top of the random re-deliveries.
    sim = simulate(program, profile, start, plan)
    sim.run([("dup", i) for i in range(len(sim.events))])
    assert len(sim.duplicates) >= len(sim.events)
    for dup in sim.duplicates:
        assert dup.outcome.status == "duplicate"
        new = dup.after["decisions"][len(dup.before["decisions"]) :]
        assert [d["rule_id"] for d in new] == ["event.duplicate"]
        assert new[0]["trigger"] == f"event:{dup.event_id}"
        assert dup.after["decision_seq"] == dup.before["decision_seq"] + 1
        unchanged = {k for k in dup.before if k not in ("decisions", "decision_seq")}
        assert {k: dup.after[k] for k in unchanged} == {k: dup.before[k] for k in unchanged}


# -- the driver itself must be able to see what it looks for ---------------------------------


def test_the_driver_sees_first_touch_then_cadence_then_opt_out() -> None:
    """A sanity check of the harness: touches do go out, and an opt-out stops them."""
    profile = Profile("physician", "cardiology", "hospital", "US", "America/Chicago")
    monday_morning = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
    download = ("event", "content_downloaded", {"topics": ["evidence"]}, None)
    sim = simulate("sample", profile, monday_morning, [download, ("advance", timedelta(days=15))])
    assert [s.order.asset_id for s in sim.sent] == ["CVT-EVD-210", "CVT-EVT-300"]
    assert sim.sent[0].at == monday_morning + timedelta(seconds=2)
    unsubscribe = ("event", "unsubscribed", {"channel": "email"}, None)
    sim.run([unsubscribe, ("advance", timedelta(weeks=6))])
    assert len(sim.sent) == 2
    assert sim.state.stage is Stage.OPTED_OUT


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_the_first_touch_waits_for_morning_only_when_the_program_says_so(program: str) -> None:
    profile = Profile("physician", "cardiology", "hospital", "US", "America/Chicago")
    late_evening = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # Monday 22:00 in Chicago
    download = ("event", "content_downloaded", {"topics": ["evidence"]}, None)
    sim = simulate(program, profile, late_evening, [download, ("advance", timedelta(days=1))])
    first = sim.sent[0].at
    if PROGRAMS[program].cadence.first_touch_respects_quiet_hours:
        assert first == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # Tuesday 08:00 in Chicago
    else:
        assert first == late_evening + timedelta(seconds=2)


@FAST
@given(program=programs, profile=profiles, start=starts, plan=steps)
def test_a_medical_question_adds_no_score_topics_or_stage_move(
    program: str, profile: Profile, start: datetime, plan: list[Step]
) -> None:
    sim = simulate(program, profile, start, plan)
    state = sim.state
    before = state.model_copy(deep=True)
    question = LeadEvent(
        event_id="mq-1",
        type="medical_question",
        occurred_at=sim.now,
        properties={"text": "Can it be given with sacubitril?", "topics": ["dosing"]},
    )
    outcome = sim.engine.apply_event(question, sim.now)
    assert outcome.status == "accepted"
    assert state.stage is before.stage
    assert state.engagements == before.engagements
    assert state.engagement_carry == before.engagement_carry
    assert state.topics_seen == before.topics_seen
    assert state.score.fit == before.score.fit
    assert state.track == before.track and state.rule_hits == before.rule_hits
    logged = " ".join(d.outcome for d in state.decisions if d.trigger == "event:mq-1")
    assert "sacubitril" not in logged  # DOMAIN 4: the text stays out of the log


# -- bugs found (each a minimal counterexample) ---------------------------------------------

HCP = Profile("physician", "cardiology", "hospital", "US", "America/Chicago")
MONDAY_MORNING = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 09:00 in Chicago


def event(etype: str, **props: Any) -> Step:
    return ("event", etype, props, None)


def test_a_medical_question_does_not_promote_the_lead_even_with_new_facts() -> None:
    profile = Profile(None, None, "hospital", "US", "America/Chicago")  # fit 30 once interested
    downloads = [event("content_downloaded", topics=["evidence"]) for _ in range(3)]
    sim = simulate("sample", profile, MONDAY_MORNING, downloads)
    assert sim.state.stage is Stage.ENGAGED
    assert sim.state.score.engagement >= SAMPLE.scoring.thresholds.engagement
    question = LeadEvent(
        event_id="mq-1",
        type="medical_question",
        occurred_at=sim.now,
        lead=LeadFacts(role="physician"),
        properties={"text": "Is it safe in CKD stage 4?"},
    )
    outcome = sim.engine.apply_event(question, sim.now)
    assert outcome.stage_after is Stage.ENGAGED, outcome.actions


def test_an_objection_stops_profiling_from_later_topics() -> None:
    profile = Profile("physician", None, None, "US", "America/Chicago")
    plan = [
        event("unsubscribed", channel="email"),
        event("page_viewed", topics=["heart_failure"]),
    ]
    sim = simulate("sample", profile, MONDAY_MORNING, plan)
    assert sim.state.marketing_objection is True
    assert sim.state.engagements == []  # engagement is not scored ...
    assert sim.state.topics_seen == []  # ... and the interest is not profiled either
    assert sim.state.score.fit == 35  # role 25 + territory 10, no therapy-area interest


def test_fresh_consent_does_not_undo_a_disqualification() -> None:
    downloads = [event("content_downloaded", topics=["evidence"]) for _ in range(3)]
    plan = [
        *downloads,
        event("disqualified"),
        event("unsubscribed", channel="email"),
        event("consent_granted", channel="email", purpose="promotional"),
        event("page_viewed", topics=[]),
    ]
    sim = simulate("sample", HCP, MONDAY_MORNING, plan)
    moves = [d.outcome for d in sim.state.decisions if d.outcome.startswith("stage ")]
    assert "stage mql -> disqualified" in moves
    after = moves[moves.index("stage mql -> disqualified") :]
    assert sim.state.stage not in stages.NURTURE_STAGES, after
    assert "stage engaged -> mql" not in after, after
