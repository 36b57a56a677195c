"""Explainable lead scoring: fit (who the lead is) and engagement (what they did, decayed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from models.events import LeadFacts
from models.lead_state import Engagement, EngagementCarry, Score, ScoreItem
from models.scoring_weights import Scoring

# Engagement kept item by item for the breakdown; older items are folded into the carry.
ENGAGEMENTS_KEPT = 100
# The breakdown names this many most recent behaviours one by one.
BREAKDOWN_LINES = 20


def norm(value: str | None) -> str:
    """A taxonomy key: 'Nurse-Practitioner ' -> 'nurse_practitioner'."""
    return (value or "").strip().lower().replace(" ", "_").replace("-", "_")


def fit_score(
    facts: LeadFacts, topics_seen: Iterable[str], scoring: Scoring
) -> tuple[int, list[ScoreItem]]:
    """Points for role, specialty, organisation type, therapy-area interest and territory."""
    weights = scoring.fit
    items = []
    for name, table, value in (
        ("role", weights.role, facts.role),
        ("specialty", weights.specialty, facts.specialty),
        ("org_type", weights.org_type, facts.org_type),
    ):
        points = table.get(norm(value))
        if points:
            items.append(ScoreItem(source=f"{name}={norm(value)}", points=points))
    interest = weights.therapy_area_interest
    if interest:
        matched = sorted(set(topics_seen) & set(interest.topics))
        if matched:
            items.append(
                ScoreItem(
                    source=f"therapy_area_interest={','.join(matched)}", points=interest.points
                )
            )
    territory = weights.territory
    if territory and facts.country and facts.country.upper() in territory.countries:
        items.append(
            ScoreItem(source=f"territory={facts.country.upper()}", points=territory.points)
        )
    return int(sum(item.points for item in items)), items


def disqualifiers(facts: LeadFacts, scoring: Scoring) -> list[str]:
    """Why this lead may not become an MQL whatever its scores (empty when nothing blocks)."""
    rules = scoring.disqualifiers
    found = []
    if norm(facts.role) in rules.roles:
        found.append(f"role={norm(facts.role)}")
    if norm(facts.org_type) in rules.org_types:
        found.append(f"org_type={norm(facts.org_type)}")
    territory = scoring.fit.territory
    if (
        rules.out_of_territory
        and territory
        and facts.country
        and facts.country.upper() not in territory.countries
    ):
        found.append(f"out_of_territory={facts.country.upper()}")
    return found


def event_points(event_type: str, topics: Iterable[str], scoring: Scoring) -> int:
    """Engagement points one behaviour earns: its type's weight plus topic bonuses."""
    base = scoring.engagement.get(event_type, 0)  # type: ignore[call-overload]
    if not base:
        return 0
    return int(base + sum(scoring.topic_bonus.get(topic, 0) for topic in set(topics)))


def decayed(points: float, age: timedelta, half_life: timedelta) -> float:
    """`points` after `age`, halving every `half_life` (never grows for negative ages)."""
    if age <= timedelta(0):
        return points
    return points * 0.5 ** (age / half_life)


def add_engagement(
    engagements: list[Engagement], carry: EngagementCarry, item: Engagement, half_life: timedelta
) -> EngagementCarry:
    """Append a scored behaviour, folding the oldest into the carry beyond the kept window."""
    engagements.append(item)
    while len(engagements) > ENGAGEMENTS_KEPT:
        oldest = engagements.pop(0)
        as_of = carry.as_of or oldest.at
        if oldest.at > as_of:
            base, as_of = decayed(carry.points, oldest.at - as_of, half_life), oldest.at
        else:
            base = carry.points
        carry = EngagementCarry(
            points=base + decayed(oldest.points, as_of - oldest.at, half_life),
            as_of=as_of,
            events=carry.events + 1,
        )
    return carry


def engagement_score(
    engagements: list[Engagement], carry: EngagementCarry, now: datetime, half_life: timedelta
) -> tuple[float, list[ScoreItem]]:
    """Decayed engagement at `now`: one breakdown line for each of the most recent
    behaviours, one line for all earlier ones (their sum, decayed the same way)."""
    earlier_points, earlier_events = 0.0, 0
    if carry.events and carry.as_of is not None:
        earlier_points = decayed(carry.points, now - carry.as_of, half_life)
        earlier_events = carry.events
    older = engagements[:-BREAKDOWN_LINES] if len(engagements) > BREAKDOWN_LINES else []
    recent = engagements[len(older) :]
    earlier_points += sum(decayed(e.points, now - e.at, half_life) for e in older)
    earlier_events += len(older)
    items = []
    if earlier_events:
        items.append(
            ScoreItem(
                source=f"earlier behaviour ({earlier_events} events)",
                points=round(earlier_points, 2),
            )
        )
    items += [
        ScoreItem.model_construct(
            source=f"event:{e.event_id} {e.type}",
            points=round(decayed(e.points, now - e.at, half_life), 2),
        )
        for e in recent
    ]
    return round(sum(i.points for i in items), 2), items


def score(
    facts: LeadFacts,
    topics_seen: Iterable[str],
    engagements: list[Engagement],
    carry: EngagementCarry,
    scoring: Scoring,
    now: datetime,
) -> Score:
    """The full, explained score at `now`."""
    fit, fit_items = fit_score(facts, topics_seen, scoring)
    engagement, engagement_items = engagement_score(engagements, carry, now, scoring.half_life)
    blocked = disqualifiers(facts, scoring)
    thresholds = scoring.thresholds
    return Score(
        fit=fit,
        engagement=engagement,
        fit_breakdown=fit_items,
        engagement_breakdown=engagement_items,
        disqualified_by=blocked,
        mql=not blocked and fit >= thresholds.fit and engagement >= thresholds.engagement,
        as_of=now,
    )
