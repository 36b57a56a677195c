"""What a CRM task shows the team it goes to: identifiers, why the lead qualified, the score,
content consumed with its versions, consent per channel, sample status, case references only
(never screened text), the next action and the SLA due time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from leadflow_domain.consent import consent_records, effective_consent
from leadflow_domain.content import current_asset
from models.compliance_rules import ConsentRules
from models.routing import CrmTaskInput
from models.tables import AssetRecord, Lead, OutboxMessage, utcnow

CHANNELS = ("email", "phone", "visit")
ATTENDED = frozenset({"webinar_attended", "event_attended"})


def task_context(
    session: Session, request: CrmTaskInput, consent_rules: ConsentRules, due_at: datetime | None
) -> dict[str, Any]:
    """The task's context, read from the lead's records now (the current asset versions)."""
    last_sent = _last_sent(session, request.lead_id)
    shown = {i.asset_id for i in request.recent_activity if i.asset_id}
    if last_sent is not None:
        shown.add(last_sent.asset_id)
    catalog = {a: found for a in shown if (found := current_asset(session, a)) is not None}
    activity_items = _activity(request, {asset_id: a.version for asset_id, a in catalog.items()})
    return {
        "lead": _identifiers(session.get(Lead, request.lead_id), request),
        "why": {
            "rule_id": request.rule_id,
            "rank": request.rank,
            "reason": request.reason,
            "request": request.request,
            "program_version": request.program_version,
            "stage": request.stage.value,
        },
        "score": request.score.model_dump(mode="json"),
        "recent_activity": activity_items,
        "events_attended": [i for i in activity_items if i["type"] in ATTENDED],
        "last_asset_sent": _last_asset(last_sent, catalog),
        "consent": _consent(session, request, consent_rules),
        "sample": request.sample,
        "case_refs": request.case_refs,
        "next_action": request.next_action,
        "sla_due_at": due_at.isoformat() if due_at else None,
        "escalation": (
            {"from_task": request.escalated_from, "reason": request.escalation_reason}
            if request.escalated_from
            else None
        ),
    }


def _last_sent(session: Session, lead_id: str) -> OutboxMessage | None:
    return session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.lead_id == lead_id, OutboxMessage.status == "sent")
        .order_by(col(OutboxMessage.created_at).desc())
    ).first()


def _activity(request: CrmTaskInput, versions: dict[str, str]) -> list[dict[str, Any]]:
    """Recent page views and downloads, newest first, with the asset version where known."""
    return [
        {
            **item.model_dump(mode="json", exclude_none=True),
            **(
                {"asset_version": versions[item.asset_id]}
                if item.asset_id and item.asset_id in versions
                else {}
            ),
        }
        for item in reversed(request.recent_activity)
    ]


def _identifiers(lead: Lead | None, request: CrmTaskInput) -> dict[str, Any]:
    return {
        "lead_id": request.lead_id,
        "email": lead.email if lead else None,
        "npi": lead.npi if lead else None,
        "crm_id": lead.crm_id if lead else None,
        "first_name": lead.first_name if lead else None,
        "last_name": lead.last_name if lead else None,
        "territory": request.territory,
        "country": request.country,
    }


def _last_asset(
    last_sent: OutboxMessage | None, catalog: dict[str, AssetRecord]
) -> dict[str, Any] | None:
    if last_sent is None:
        return None
    asset = catalog.get(last_sent.asset_id)
    return {
        "asset_id": last_sent.asset_id,
        "asset_version": last_sent.asset_version,
        "title": asset.title if asset else last_sent.subject,
        "sent_at": last_sent.created_at.isoformat(),
    }


def _consent(session: Session, request: CrmTaskInput, rules: ConsentRules) -> dict[str, str]:
    """Promotional consent per channel as it stands now."""
    records = consent_records(session, request.lead_id)
    now = utcnow()
    return {
        channel: str(
            effective_consent(records, channel, "promotional", request.country, now, rules)
        )
        for channel in CHANNELS
    }
