"""A lead's audit trail (who, what, when and why; never edited): decisions of every run, sends,
consent, reviews and safety case references, in time order, as JSON or CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from models.lead_state import Decision, DecisionLog, lead_workflow_id
from models.queries import archived_decisions
from models.tables import (
    ComplianceReview,
    ConsentRecord,
    CrmTask,
    OutboxMessage,
    ScreeningCase,
)
from starter.settings import Settings
from workflows.lead import LeadWorkflow

COLUMNS = ("at", "kind", "actor", "what", "detail")


class AuditEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    what: str
    detail: str


class AuditTrail(BaseModel):
    lead_id: str
    workflow_url: str
    entries: list[AuditEntry]


def _decision_entry(d: Decision) -> AuditEntry:
    actor = d.inputs.get("actor") or d.inputs.get("by") or d.inputs.get("reviewer") or "leadflow"
    detail = json.dumps(
        {"rule_id": d.rule_id, "trigger": d.trigger, "program_version": d.program_version}
        | {"inputs": d.inputs}
    )
    return AuditEntry(at=d.at, kind="decision", actor=actor, what=d.outcome, detail=detail)


def audit_entries(db: Engine, lead_id: str, decisions: list[Decision]) -> list[AuditEntry]:
    """Everything recorded about a lead, oldest first (no safety text: case references only)."""
    entries = [_decision_entry(d) for d in decisions]
    with Session(db) as session:
        for m in session.exec(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)):
            entries.append(_send_entry(m))
        consent = select(ConsentRecord).where(ConsentRecord.lead_id == lead_id)
        for c in session.exec(consent.order_by(col(ConsentRecord.recorded_at))):
            entries.append(_consent_entry(c))
        for r in session.exec(select(ComplianceReview).where(ComplianceReview.lead_id == lead_id)):
            entries.append(_review_entry(r))
        for t in session.exec(select(CrmTask).where(CrmTask.lead_id == lead_id)):
            entries.extend(_task_entries(t))
        for s in session.exec(select(ScreeningCase).where(ScreeningCase.lead_id == lead_id)):
            entries.append(_case_entry(s))
    return sorted(entries, key=lambda e: e.at)


def _entry(at: datetime, kind: str, by: str, what: str, /, **detail: object) -> AuditEntry:
    return AuditEntry(at=at, kind=kind, actor=by, what=what, detail=json.dumps(detail))


def _send_entry(m: OutboxMessage) -> AuditEntry:
    return _entry(
        m.sent_at or m.created_at,
        "send",
        "leadflow",
        f"{m.status} {m.asset_id} v{m.asset_version}",
        message_id=m.message_id,
        touch_id=m.touch_id,
        consent=m.consent_state,
        trigger=m.trigger,
        program_version=m.program_version,
    )


def _consent_entry(c: ConsentRecord) -> AuditEntry:
    return _entry(
        c.recorded_at,
        "consent",
        c.source,
        f"{c.status} {c.channel}/{c.purpose}",
        method=c.method,
        wording_version=c.wording_version,
        evidence=c.evidence,
        event_id=c.event_id,
    )


def _review_entry(r: ComplianceReview) -> AuditEntry:
    return _entry(
        r.decided_at or r.opened_at,
        "review",
        r.reviewer or "leadflow",
        f"review {r.review_id} {r.status}",
        reason=r.reason,
        note=r.note,
        actor=r.actor,
    )


def _task_entries(t: CrmTask) -> list[AuditEntry]:
    """A CRM task's creation, and its latest change of status if any."""
    created = _entry(
        t.created_at,
        "handoff",
        "leadflow",
        f"task {t.task_id} in {t.queue} ({t.rule_id})",
        reason=t.reason,
        due_at=t.due_at and t.due_at.isoformat(),
        escalated_from=t.escalated_from,
    )
    if t.updated_at is None:
        return [created]
    changed = _entry(
        t.updated_at,
        "handoff",
        t.actor or "leadflow",
        f"task {t.task_id} {t.status}",
        resolution=t.resolution,
        note=t.note,
    )
    return [created, changed]


def _case_entry(s: ScreeningCase) -> AuditEntry:
    return _entry(
        s.awareness_at,
        "case",
        "leadflow",
        f"case {s.case_ref} ({s.route}) {s.status}",
        forward_by=s.forward_by and s.forward_by.isoformat(),
    )


def as_csv(trail: AuditTrail) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in trail.entries:
        writer.writerow([e.at.isoformat(), e.kind, e.actor, e.what, e.detail])
    return out.getvalue()


async def complete_decisions(client: Client, db: Engine, lead_id: str) -> DecisionLog:
    """The lead's complete decision log: archived runs, then the running one.

    Raises:
        RPCError: NOT_FOUND when there is no such lead.
    """
    handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
    live: DecisionLog = await handle.query(LeadWorkflow.decisions)
    archived = await asyncio.to_thread(archived_decisions, db, lead_id)
    seen = {(d.chain, d.seq) for d in archived}
    merged = archived + [d for d in live.decisions if (live.chain, d.seq) not in seen]
    return DecisionLog(lead_id=lead_id, decisions=merged, chain=live.chain)


def workflow_url(settings: Settings, lead_id: str) -> str:
    """The lead's workflow in the Temporal UI."""
    return (
        f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{lead_workflow_id(lead_id)}"
    )


async def audit_trail(client: Client, db: Engine, settings: Settings, lead_id: str) -> AuditTrail:
    """The lead's audit trail, as the API and the CLI show it.

    Raises:
        RPCError: NOT_FOUND when there is no such lead.
    """
    log = await complete_decisions(client, db, lead_id)
    entries = await asyncio.to_thread(audit_entries, db, lead_id, log.decisions)
    return AuditTrail(
        lead_id=lead_id, workflow_url=workflow_url(settings, lead_id), entries=entries
    )
