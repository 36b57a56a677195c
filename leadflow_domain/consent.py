"""The consent ledger and the suppression list: written at intake, re-checked at send time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.compliance_rules import ConsentRules
from models.events import EventType, LeadEventIn
from models.tables import ConsentRecord, Suppression, utcnow

# Least to most permissive: record statuses, and the effective states derived from them.
PERMISSIVENESS = {
    "withdrawn": 0,
    "expired": 1,
    "none": 1,
    "pending": 2,
    "no_objection": 3,
    "granted": 4,
    "confirmed": 4,
}
ALLOWING = frozenset({"granted", "confirmed", "no_objection"})


@dataclass(frozen=True)
class ConsentState:
    """Effective consent for one channel and purpose, and the record it rests on."""

    status: str  # granted | confirmed | pending | withdrawn | expired | none | no_objection
    basis: str

    @property
    def allows_sending(self) -> bool:
        return self.status in ALLOWING

    def __str__(self) -> str:
        return f"{self.status} ({self.basis})"


def _applies(record: ConsentRecord, channel: str, purpose: str) -> bool:
    return record.channel in (channel, "all") and record.purpose in (purpose, "all")


def effective_consent(
    records: list[ConsentRecord],
    channel: str,
    purpose: str,
    country: str | None,
    now: datetime,
    rules: ConsentRules,
) -> ConsentState:
    """The latest applicable record decides; records at the same moment resolve to the least
    permissive. Without any record, opt-in countries get nothing."""
    applicable = [r for r in records if _applies(r, channel, purpose)]
    if not applicable:
        if country and country.upper() in rules.opt_in_countries:
            return ConsentState("none", f"no consent on record; {country.upper()} needs opt-in")
        return ConsentState("no_objection", "no consent record; opt-out regime")
    latest = max(r.recorded_at for r in applicable)
    deciding = min(
        (r for r in applicable if r.recorded_at == latest),
        key=lambda r: PERMISSIVENESS.get(r.status, 0),
    )
    basis = f"record {deciding.id} from {deciding.source} via {deciding.method}"
    expires = deciding.expires_at
    if deciding.status in ("granted", "confirmed") and expires is not None and expires <= now:
        return ConsentState("expired", f"{basis}; expired {expires.date()}")
    return ConsentState(deciding.status, basis)


CONSENT_EVENTS = frozenset(
    {EventType.CONSENT_GRANTED, EventType.CONSENT_WITHDRAWN, EventType.UNSUBSCRIBED}
)


def consent_record_for(
    lead_id: str, event: LeadEventIn, country: str | None, rules: ConsentRules
) -> ConsentRecord | None:
    """The ledger entry a consent event makes, or None for other events."""
    if event.type not in CONSENT_EVENTS:
        return None
    props: dict[str, Any] = event.properties
    channel = str(
        props.get("channel") or ("email" if event.type is EventType.UNSUBSCRIBED else "all")
    )
    purpose = str(props.get("purpose") or ("promotional" if channel == "email" else "all"))
    method = str(props.get("method") or "express")
    status = "granted"
    expires_at = None
    if event.type is not EventType.CONSENT_GRANTED:
        status = "withdrawn"
    elif (
        country and country.upper() in rules.double_opt_in_countries and channel in ("email", "all")
    ):
        status = "confirmed" if props.get("confirmed") is True else "pending"
    elif method == "implied" and country and country.upper() in rules.implied_consent_expiry:
        expires_at = event.occurred_at + rules.implied_consent_expiry[country.upper()]
    evidence = props.get("evidence")
    return ConsentRecord(
        lead_id=lead_id,
        channel=channel,
        purpose=purpose,
        status=status,
        source=str(props.get("source") or "event"),
        method=method,
        wording_version=props.get("wording_version"),
        evidence=json.dumps(evidence) if evidence is not None else None,
        event_id=event.event_id,
        recorded_at=event.occurred_at,
        expires_at=expires_at,
    )


def append_consent(session: Session, record: ConsentRecord) -> None:
    """Append a record; the same event delivered twice is recorded once."""
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def consent_records(session: Session, lead_id: str) -> list[ConsentRecord]:
    query = select(ConsentRecord).where(ConsentRecord.lead_id == lead_id)
    return list(session.exec(query.order_by(col(ConsentRecord.recorded_at))).all())


def email_hash(email: str) -> str:
    """The suppression list keeps only this hash (also after erasure)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def suppress(session: Session, email: str, reason: str) -> None:
    session.add(Suppression(email_hash=email_hash(email), reason=reason, created_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # already suppressed


def suppression_reason(session: Session, email: str) -> str | None:
    row = session.exec(
        select(Suppression).where(Suppression.email_hash == email_hash(email))
    ).first()
    return row.reason if row else None
