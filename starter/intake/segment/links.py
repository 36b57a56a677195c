"""Segment ids linked to leads (hashed), and unmapped `track` names kept for ops."""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.tables import Lead, SegmentUnmappedEvent, SegmentUser, utcnow
from starter.identity import survivor
from starter.intake.segment.convert import IDENTIFIERS


def _hash(source_id: str) -> str:
    return hashlib.sha256(source_id.encode()).hexdigest()


def known_identifiers(db: Engine, source_ids: list[str]) -> dict[str, str]:
    """The identifiers of the lead a userId/anonymousId was linked to (userId first)."""
    with Session(db) as session:
        for source_id in source_ids:
            link = session.get(SegmentUser, _hash(source_id))
            lead = session.get(Lead, link.lead_id) if link else None
            if lead is not None:
                lead = survivor(session, lead)  # merged by a data steward
                found = {name: getattr(lead, name) for name in IDENTIFIERS}
                if any(found.values()):
                    return {name: value for name, value in found.items() if value}
    return {}


def link(db: Engine, source_ids: list[str], lead_id: str) -> None:
    """Link each id to the lead (the latest identified lead wins for a shared device)."""
    with Session(db) as session:
        for source_id in source_ids:
            session.merge(
                SegmentUser(source_id_hash=_hash(source_id), lead_id=lead_id, linked_at=utcnow())
            )
            try:
                session.commit()
            except IntegrityError:  # linked concurrently by another request: that one stands
                session.rollback()


def record_unmapped(db: Engine, event_id: str, name: str) -> None:
    with Session(db) as session:
        session.merge(
            SegmentUnmappedEvent(message_id=event_id, event_name=name, received_at=utcnow())
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
