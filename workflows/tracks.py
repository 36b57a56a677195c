"""Which track a lead is on and which approved asset comes next."""

from __future__ import annotations

from models.events import LeadEvent, LeadFacts
from models.lead_state import LeadState
from models.nurture import TrackRule, When
from models.program import Program
from workflows.scoring import norm


def _topics(event: LeadEvent) -> set[str]:
    topics = event.properties.get("topics") or []
    return {str(t) for t in topics} if isinstance(topics, list) else set()


def _matches(when: When, event: LeadEvent, facts: LeadFacts) -> bool:
    if when.types and event.type not in when.types:
        return False
    if when.topics_any and not (_topics(event) & set(when.topics_any)):
        return False
    return not (when.roles_any and norm(facts.role) not in when.roles_any)


def match_track_rule(
    rules: list[TrackRule], event: LeadEvent, facts: LeadFacts, rule_hits: dict[str, int]
) -> TrackRule | None:
    """Count this event against every rule it matches; the first rule whose count is reached
    now wins (a rule with `count_at_least: 3` fires on the third matching event, once)."""
    fired = None
    for rule in rules:
        if not _matches(rule.when, event, facts):
            continue
        rule_hits[rule.id] = rule_hits.get(rule.id, 0) + 1
        if fired is None and rule_hits[rule.id] == rule.when.count_at_least:
            fired = rule
    return fired


def sent_assets(state: LeadState) -> set[str]:
    return {t.asset_id for t in state.touches if t.status == "sent"}


def tried_assets(state: LeadState) -> set[str]:
    """Assets sent, refused at send time, or already downloaded: not offered again."""
    return {t.asset_id for t in state.touches} | set(state.consumed_assets)


def next_asset(state: LeadState, program: Program) -> str | None:
    """The asset a rule asked for, else the track's first asset not yet sent to this lead."""
    sent = tried_assets(state)
    if state.next_asset and state.next_asset not in sent:
        return state.next_asset
    if state.track is None:
        return None
    track = program.tracks.definitions.get(state.track)
    if track is None:
        return None
    return next((a for a in track.assets if a not in sent), None)
