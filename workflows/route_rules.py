"""Routing rules, evaluated purely: which rule (first match by rank) sends a lead where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.events import LeadFacts
from models.lead_state import Score, Stage
from models.routing import RouteRule, RouteWhen, Routing


@dataclass(frozen=True)
class RouteContext:
    """What routing conditions look at: the event that asked, the lead's facts and scores."""

    event_type: str | None
    stage: Stage
    facts: LeadFacts
    score: Score
    properties: dict[str, Any] = field(default_factory=dict)
    screening_route: str | None = None
    high_value_account: bool = False
    sample_eligible: bool = False
    fit_ok: bool = True


def _norm(value: object) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _any_of(allowed: list[str], *values: object) -> bool:
    wanted = {a.strip().lower() for a in allowed}
    return any(_norm(v) in wanted for v in values)


def matches(when: RouteWhen, ctx: RouteContext) -> bool:
    facts, score = ctx.facts, ctx.score
    checks = [
        not when.events or ctx.event_type in when.events,
        not when.screening_routes or ctx.screening_route in when.screening_routes,
        when.mql is None or (ctx.stage is Stage.MQL) == when.mql,
        not when.stages or ctx.stage in when.stages,
        not when.therapy_areas or _any_of(when.therapy_areas, ctx.properties.get("therapy_area")),
        not when.products or _any_of(when.products, ctx.properties.get("product")),
        not when.territories or _any_of(when.territories, facts.territory),
        not when.customer_types or _any_of(when.customer_types, facts.role, facts.org_type),
        when.min_fit is None or score.fit >= when.min_fit,
        when.min_engagement is None or score.engagement >= when.min_engagement,
        when.high_value_account is None or ctx.high_value_account == when.high_value_account,
        when.sample_eligible is None or ctx.sample_eligible == when.sample_eligible,
        when.fit_ok is None or ctx.fit_ok == when.fit_ok,
    ]
    return all(checks)


def first_match(routing: Routing, ctx: RouteContext, skip: set[str]) -> RouteRule | None:
    """The first rule by rank whose conditions hold (rules in `skip` are passed over)."""
    return next(
        (r for r in routing.rules if r.id not in skip and matches(r.when, ctx)),
        None,
    )


def high_value(routing: Routing, facts: LeadFacts) -> bool:
    org = _norm(facts.organization)
    return org is not None and org in {a.strip().lower() for a in routing.high_value_accounts}


def sample_problems(facts: LeadFacts, properties: dict[str, Any]) -> list[str]:
    """Why a sample request cannot go to fulfilment yet (it needs a valid NPI and a signed
    written request); empty when it can."""
    problems = []
    if not facts.npi_valid:
        problems.append("no valid NPI on record")
    if properties.get("signed_request") is not True:
        problems.append("no signed written request")
    return problems
