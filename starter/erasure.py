"""Erasure: marketing data goes; a hashed suppression entry and safety records stay."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from leadflow_domain.consent import email_hash, suppress
from models.lead_state import lead_workflow_id
from models.tables import (
    ComplianceReview,
    ConsentRecord,
    CrmTask,
    DecisionLogEntry,
    IdentityReview,
    Lead,
    LeadMerge,
    OutboxMessage,
    ReceivedEvent,
    SegmentUser,
)
from starter.temporal import keys_of

log = structlog.get_logger(__name__)


class UnknownLead(LookupError):
    pass


def erase_marketing_data(db: Engine, lead_id: str) -> None:
    """Suppress the address (hashed), delete consent and identifiers, anonymise the outbox,
    the CRM tasks, stewardship records and archived decisions; leads merged into this one go
    too. Safety cases stay (pharmacovigilance retention)."""
    with Session(db) as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise UnknownLead(lead_id)
        merged = session.exec(select(Lead).where(Lead.merged_into == lead_id)).all()
        for person in [lead, *merged]:
            _erase_person(session, person)
        session.commit()


def _erase_person(session: Session, lead: Lead) -> None:
    lead_id = lead.lead_id
    if lead.email:
        suppress(session, lead.email, "erasure")
        erased = f"erased:{email_hash(lead.email)[:16]}"
        session.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.lead_id) == lead_id)
            .values(recipient=erased)
        )
    for table in (ConsentRecord, ReceivedEvent, SegmentUser):
        session.execute(sa.delete(table).where(col(table.lead_id) == lead_id))
    _erase_from_crm_tasks(session, lead_id)
    _erase_notes(session, lead_id)
    for field in ("email", "npi", "crm_id", "first_name", "last_name", "country"):
        setattr(lead, field, None)
    lead.organization = lead.name_key = lead.org_key = None  # the weak-match keys too
    session.add(lead)


def _erase_notes(session: Session, lead_id: str) -> None:
    """Free text people wrote about the lead (review, stewardship and merge notes, pause
    reasons in archived decisions) goes; who decided what, and when, stays."""
    session.execute(
        sa.update(ComplianceReview)
        .where(col(ComplianceReview.lead_id) == lead_id)
        .values(note=None)
    )
    involved = (col(IdentityReview.lead_id) == lead_id) | (
        col(IdentityReview.candidate_lead_id) == lead_id
    )
    session.execute(sa.update(IdentityReview).where(involved).values(note=None))
    merges = (col(LeadMerge.survivor_lead_id) == lead_id) | (
        col(LeadMerge.merged_lead_id) == lead_id
    )
    session.execute(sa.update(LeadMerge).where(merges).values(note=None))
    for entry in session.exec(select(DecisionLogEntry).where(DecisionLogEntry.lead_id == lead_id)):
        inputs = json.loads(entry.inputs)
        if isinstance(inputs, dict) and NOTE_INPUTS.intersection(inputs):
            entry.inputs = json.dumps(inputs | dict.fromkeys(NOTE_INPUTS & inputs.keys()))
            session.add(entry)


# Decision inputs that hold what a person typed (a pause reason, a reviewer's note).
NOTE_INPUTS = frozenset({"reason", "note"})


# What a CRM task's context shows of the person; the rest (why, scores, case references) stays.
TASK_IDENTIFIERS = ("email", "npi", "crm_id", "first_name", "last_name")


def _erase_from_crm_tasks(session: Session, lead_id: str) -> None:
    """The lead's CRM tasks keep their routing record but lose its identifiers and the
    free-text notes sales wrote about the person."""
    for task in session.exec(select(CrmTask).where(CrmTask.lead_id == lead_id)):
        context = json.loads(task.context)
        person = context.get("lead")
        if isinstance(person, dict):
            person.update(dict.fromkeys(TASK_IDENTIFIERS))
        task.context = json.dumps(context)
        task.note = None
        session.add(task)


async def erase_lead(client: Client, db: Engine, lead_id: str, actor: str) -> None:
    """Erase a lead's marketing data, end its workflow and destroy its data key (safety cases
    are not touched: they are kept for pharmacovigilance, under the system key)."""
    await asyncio.to_thread(erase_marketing_data, db, lead_id)
    handle = client.get_workflow_handle(lead_workflow_id(lead_id))
    try:
        await handle.terminate(reason=f"erasure requested; carried out by {actor}")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    # Crypto-shredding, once the workflow has ended (a running one could no longer decode its
    # own tasks): every copy of the lead's payloads, in every history and backup, is unreadable.
    keys = keys_of(client)
    destroyed = await asyncio.to_thread(keys.destroy_lead_keys, lead_id) if keys else 0
    log.info("lead erased", lead_id=lead_id, actor=actor, data_keys_destroyed=destroyed)
