"""Effective consent from the append-only ledger (DOMAIN 11-16), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadflow_domain.consent import consent_record_for, effective_consent
from models.compliance_rules import ConsentRules
from models.events import LeadEventIn
from models.tables import ConsentRecord
from tests.helpers.factories import event_payload

RULES = ConsentRules()
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _record(status: str, at: datetime, **extra: object) -> ConsentRecord:
    fields: dict[str, object] = {
        "lead_id": "ld_x",
        "channel": "email",
        "purpose": "promotional",
        "status": status,
        "source": "form",
        "method": "express",
        "recorded_at": at,
    }
    fields.update(extra)
    return ConsentRecord(**fields)  # type: ignore[arg-type]


def test_the_latest_record_decides_and_ties_resolve_to_the_least_permissive() -> None:
    records = [_record("granted", T0), _record("withdrawn", T0 + timedelta(days=1))]
    assert effective_consent(records, "email", "promotional", "US", T0, RULES).status == "withdrawn"
    tie = [_record("granted", T0, source="import"), _record("withdrawn", T0, source="rep")]
    assert effective_consent(tie, "email", "promotional", "US", T0, RULES).status == "withdrawn"
    regrant = records + [_record("granted", T0 + timedelta(days=5))]
    assert effective_consent(regrant, "email", "promotional", "US", T0, RULES).allows_sending


def test_a_withdrawal_for_all_channels_applies_to_email() -> None:
    records = [_record("granted", T0), _record("withdrawn", T0 + timedelta(hours=1), channel="all")]
    state = effective_consent(records, "email", "promotional", "US", T0, RULES)
    assert not state.allows_sending


def test_no_record_means_no_objection_in_the_us_and_nothing_in_opt_in_countries() -> None:
    assert effective_consent([], "email", "promotional", "US", T0, RULES).allows_sending
    assert not effective_consent([], "email", "promotional", "FR", T0, RULES).allows_sending


def test_canadian_implied_consent_expires() -> None:
    event = LeadEventIn.model_validate(
        event_payload(
            type="consent_granted",
            occurred_at=T0.isoformat(),
            properties={"channel": "email", "purpose": "promotional", "method": "implied"},
        )
    )
    record = consent_record_for("ld_x", event, "CA", RULES)
    assert record is not None and record.expires_at == T0 + timedelta(days=183)
    assert effective_consent([record], "email", "promotional", "CA", T0, RULES).allows_sending
    later = T0 + timedelta(days=200)
    expired = effective_consent([record], "email", "promotional", "CA", later, RULES)
    assert expired.status == "expired" and not expired.allows_sending


def test_german_consent_is_pending_until_the_double_opt_in_is_confirmed() -> None:
    props = {"channel": "email", "purpose": "promotional"}
    grant = LeadEventIn.model_validate(event_payload(type="consent_granted", properties=props))
    record = consent_record_for("ld_x", grant, "DE", RULES)
    assert record is not None and record.status == "pending"
    confirmed = LeadEventIn.model_validate(
        event_payload(type="consent_granted", properties={**props, "confirmed": True})
    )
    record = consent_record_for("ld_x", confirmed, "DE", RULES)
    assert record is not None and record.status == "confirmed"
