"""Safety and medical screening cases, opened at intake: one per event, aware at first receipt."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from leadflow_domain.free_text_screen import forward_by
from models.screening import SafetyRules, ScreenResult
from models.tables import ScreeningCase


def new_case_ref(route: str) -> str:
    prefix = "SC" if route == "drug_safety" else "MI"
    return f"{prefix}-{secrets.token_hex(5).upper()}"


def open_case(
    session: Session,
    *,
    lead_id: str,
    event_id: str,
    event_type: str,
    result: ScreenResult,
    texts: dict[str, str],
    awareness_at: datetime,
    rules: SafetyRules,
) -> ScreeningCase:
    """Record a routed report; the same event screened twice opens one case."""
    assert result.route is not None
    existing = session.exec(select(ScreeningCase).where(ScreeningCase.event_id == event_id)).first()
    if existing:
        return existing
    case = ScreeningCase(
        case_ref=new_case_ref(result.route),
        lead_id=lead_id,
        event_id=event_id,
        event_type=event_type,
        route=result.route,
        flags=json.dumps(result.flags),
        matched_terms=json.dumps([m.model_dump() for m in result.matched]),
        minimum_elements=json.dumps(result.minimum_elements),
        texts=json.dumps(texts),
        status="open",
        awareness_at=awareness_at,
        forward_by=forward_by(awareness_at, rules) if result.route == "drug_safety" else None,
    )
    session.add(case)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = session.exec(select(ScreeningCase).where(ScreeningCase.event_id == event_id)).one()
        return found
    session.refresh(case)
    return case
