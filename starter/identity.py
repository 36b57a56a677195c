"""Identity resolution: find or create the lead an event is about (race-safe)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, or_, select

from models.events import LeadProfile
from models.tables import Lead, utcnow


class IdentityConflict(ValueError):
    """The event's identifiers point at different leads: never merged automatically.

    `lead_ids` names the leads involved, strongest identifier first, when they are known.
    """

    def __init__(self, message: str, lead_ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.lead_ids = lead_ids


@dataclass(frozen=True)
class Resolution:
    """The lead an event is about; `created` or `rekeyed` (its name or institution key was
    just set) mean it should be checked against others for a steward."""

    lead_id: str
    created: bool = False
    rekeyed: bool = False


MAX_MERGE_CHAIN = 10


def new_lead_id() -> str:
    """An opaque id: says nothing about the person."""
    return f"ld_{secrets.token_hex(10)}"


def match_key(*parts: str | None) -> str | None:
    """Case-, accent-, punctuation- and spacing-insensitive text for the weak match, or None
    when a part is missing ("José  MARTÍNEZ" and "jose martinez" give the same key)."""
    if not all(parts):
        return None
    text = unicodedata.normalize("NFKD", " ".join(p for p in parts if p))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split()) or None


def survivor(session: Session, lead: Lead) -> Lead:
    """The lead that now stands for `lead`: itself, or the one a steward merged it into."""
    for _ in range(MAX_MERGE_CHAIN):
        if lead.merged_into is None:
            return lead
        merged_into = session.get(Lead, lead.merged_into)
        if merged_into is None:
            return lead
        lead = merged_into
    return lead


def _matches(session: Session, profile: LeadProfile, link_on_email: bool) -> list[Lead]:
    # Strongest identifier first: NPI, then CRM id, then email unless it is a shared inbox
    # (info@ or office@ reaches a team, not one person) and the profile has a
    # personal identifier. A merged lead's identifiers lead to its survivor.
    email_links = link_on_email or not (profile.npi or profile.crm_id)
    found: list[Lead] = []
    for column, value in (
        (Lead.npi, profile.npi),
        (Lead.crm_id, profile.crm_id),
        (Lead.email, profile.email if email_links else None),
    ):
        if value:
            lead = session.exec(select(Lead).where(column == value)).first()
            if lead:
                lead = survivor(session, lead)
                if lead.lead_id not in [f.lead_id for f in found]:
                    found.append(lead)
    return found


def _fill_gaps(lead: Lead, profile: LeadProfile) -> bool:
    """Add identifiers the lead lacks; never overwrite one it has."""
    changed = False
    for field in ("email", "npi", "crm_id", "first_name", "last_name", "country", "organization"):
        value = getattr(profile, field)
        if field == "country" and value:
            value = value.upper()
        if value and not getattr(lead, field):
            setattr(lead, field, value)
            changed = True
    return refresh_match_keys(lead) or changed


def refresh_match_keys(lead: Lead) -> bool:
    """Keep the weak-match keys in step with the stored name and institution."""
    keys = (match_key(lead.first_name, lead.last_name), match_key(lead.organization))
    if keys == (lead.name_key, lead.org_key):
        return False
    lead.name_key, lead.org_key = keys
    return True


def _unshared(session: Session, profile: LeadProfile, link_on_email: bool) -> LeadProfile:
    """The profile without its shared inbox when another lead already holds that address:
    several people may write from info@, and the address stays with the lead that has it."""
    if link_on_email or not profile.email:
        return profile
    if session.exec(select(Lead.lead_id).where(Lead.email == profile.email)).first() is None:
        return profile
    return profile.model_copy(update={"email": None})


def resolve(session: Session, profile: LeadProfile, *, link_on_email: bool = True) -> Resolution:
    """Find or create the lead for this profile; see `resolve_lead`.

    Raises:
        IdentityConflict: the identifiers belong to different leads.
    """
    for _ in range(3):
        found = _matches(session, profile, link_on_email)
        if found:
            lead, created = found[0], False
        else:
            lead, created = Lead(lead_id=new_lead_id(), created_at=utcnow()), True
        keys = (lead.name_key, lead.org_key)
        if not _fill_gaps(lead, _unshared(session, profile, link_on_email)) and not created:
            return Resolution(lead.lead_id)
        rekeyed = keys != (lead.name_key, lead.org_key)
        session.add(lead)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return Resolution(lead.lead_id, created=created, rekeyed=rekeyed)
    raise IdentityConflict(
        "lead: these identifiers belong to different leads (e.g. one lead's NPI with another's "
        "email); a data steward must resolve them",
        tuple(lead.lead_id for lead in _matches(session, profile, link_on_email)),
    )


def resolve_lead(session: Session, profile: LeadProfile, *, link_on_email: bool = True) -> str:
    """The lead id for this profile, creating the lead when nobody matches.

    Uniqueness constraints, not check-then-insert, keep two concurrent first events for the
    same person from creating two leads: the loser of the race re-reads the winner's row.
    """
    return resolve(session, profile, link_on_email=link_on_email).lead_id


def find_lead_ids(
    session: Session, *, email: str | None, npi: str | None, crm_id: str | None = None
) -> list[str]:
    """Leads matching any of the given identifiers exactly (email compared lower-cased); a
    merged lead's identifiers answer with the lead it was merged into."""
    clauses = []
    if email:
        clauses.append(Lead.email == email.strip().lower())
    if npi:
        clauses.append(Lead.npi == npi.strip())
    if crm_id:
        clauses.append(Lead.crm_id == crm_id.strip())
    if not clauses:
        return []
    found = [
        survivor(session, lead).lead_id for lead in session.exec(select(Lead).where(or_(*clauses)))
    ]
    return list(dict.fromkeys(found))
