"""Identity resolution: find or create the lead an event is about (race-safe)."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, or_, select

from models.events import LeadProfile
from models.tables import Lead, utcnow


class IdentityConflict(ValueError):
    """The event's identifiers point at different leads: never merged automatically."""


def new_lead_id() -> str:
    """An opaque id: says nothing about the person."""
    return f"ld_{secrets.token_hex(10)}"


def _find(session: Session, profile: LeadProfile, link_on_email: bool) -> Lead | None:
    # Strongest identifier first: NPI, then CRM id, then email unless it is a shared inbox
    # (DOMAIN 20: info@ or office@ reaches a team, not one person).
    for column, value in (
        (Lead.npi, profile.npi),
        (Lead.crm_id, profile.crm_id),
        (Lead.email, profile.email if link_on_email else None),
    ):
        if value:
            lead = session.exec(select(Lead).where(column == value)).first()
            if lead:
                return lead
    return None


def _fill_gaps(lead: Lead, profile: LeadProfile) -> bool:
    """Add identifiers the lead lacks; never overwrite one it has."""
    changed = False
    for field in ("email", "npi", "crm_id", "first_name", "last_name", "country"):
        value = getattr(profile, field)
        if field == "country" and value:
            value = value.upper()
        if value and not getattr(lead, field):
            setattr(lead, field, value)
            changed = True
    return changed


def resolve_lead(session: Session, profile: LeadProfile, *, link_on_email: bool = True) -> str:
    """The lead id for this profile, creating the lead when nobody matches.

    Uniqueness constraints, not check-then-insert, keep two concurrent first events for the
    same person from creating two leads: the loser of the race re-reads the winner's row.
    """
    for _ in range(3):
        lead = _find(session, profile, link_on_email)
        if lead is None:
            lead = Lead(lead_id=new_lead_id(), created_at=utcnow())
            _fill_gaps(lead, profile)
        elif not _fill_gaps(lead, profile):
            return lead.lead_id
        session.add(lead)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return lead.lead_id
    raise IdentityConflict(
        "lead: these identifiers belong to different leads (e.g. one lead's NPI with another's "
        "email); a data steward must resolve them"
    )


def lead_exists(session: Session, lead_id: str) -> bool:
    return session.get(Lead, lead_id) is not None


def find_lead_ids(
    session: Session, *, email: str | None, npi: str | None, crm_id: str | None = None
) -> list[str]:
    """Leads matching any of the given identifiers exactly (email compared lower-cased)."""
    clauses = []
    if email:
        clauses.append(Lead.email == email.strip().lower())
    if npi:
        clauses.append(Lead.npi == npi.strip())
    if crm_id:
        clauses.append(Lead.crm_id == crm_id.strip())
    if not clauses:
        return []
    return list(session.exec(select(Lead.lead_id).where(or_(*clauses))).all())
