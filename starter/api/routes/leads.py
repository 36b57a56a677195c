"""`/v1/leads`: find a lead, read its state, decisions and audit trail; pause, resume, erase."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import PlainTextResponse
from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle

from models.lead_state import DecisionLog, LeadState, PauseRequest, ResumeRequest, lead_workflow_id
from starter.api.deps import ClientDep, ComplianceKey, DbDep, SalesKey, SettingsDep, require
from starter.api.errors import on_lead
from starter.api.schemas import LeadsFound, ManualAction, PauseBody, ResumeBody
from starter.audit import AuditTrail, as_csv, audit_trail, complete_decisions
from starter.erasure import erase_lead
from starter.identity import find_lead_ids
from workflows.lead import LeadWorkflow

router = APIRouter(prefix="/v1/leads", tags=["leads"])


def _workflow(client: Client, lead_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))


@router.get("", dependencies=[require("leads:read")], response_model=LeadsFound)
def find_leads(
    db: DbDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    npi: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
    crm_id: Annotated[str | None, Query(max_length=100)] = None,
) -> LeadsFound:
    """Find a lead by an exact identifier; answers with opaque lead ids only."""
    if not (email or npi or crm_id):
        raise HTTPException(422, "give one of email, npi, crm_id")
    with Session(db) as session:
        return LeadsFound(lead_ids=find_lead_ids(session, email=email, npi=npi, crm_id=crm_id))


@router.get("/{lead_id}", dependencies=[require("leads:read")], response_model=LeadState)
async def lead_state(lead_id: str, client: ClientDep) -> LeadState:
    """The lead's state as its workflow holds it now."""
    return await on_lead(lead_id, _workflow(client, lead_id).query(LeadWorkflow.state))


@router.get(
    "/{lead_id}/decisions", dependencies=[require("leads:read")], response_model=DecisionLog
)
async def lead_decisions(lead_id: str, client: ClientDep, db: DbDep) -> DecisionLog:
    """The lead's complete decision log: archived runs, then the running one."""
    return await on_lead(lead_id, complete_decisions(client, db, lead_id))


@router.get("/{lead_id}/audit", dependencies=[require("leads:read")], response_model=AuditTrail)
async def lead_audit(
    lead_id: str,
    client: ClientDep,
    db: DbDep,
    settings: SettingsDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """The lead's complete audit trail, as JSON or CSV, with a link to its workflow."""
    trail = await on_lead(lead_id, audit_trail(client, db, settings, lead_id))
    if format == "csv":
        return PlainTextResponse(
            as_csv(trail),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{lead_id}-audit.csv"'},
        )
    return trail


@router.post("/{lead_id}/pause", status_code=status.HTTP_202_ACCEPTED, response_model=ManualAction)
async def pause_lead(
    lead_id: str, body: PauseBody, client: ClientDep, holder: SalesKey
) -> ManualAction:
    """Pause promotional nurture for one lead; the acting key's name is the actor."""
    request = PauseRequest(by=holder.name, reason=body.reason, until=body.until)
    await on_lead(lead_id, _workflow(client, lead_id).signal(LeadWorkflow.pause, request))
    return ManualAction(lead_id=lead_id, action="pause", by=holder.name)


@router.post("/{lead_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=ManualAction)
async def resume_lead(
    lead_id: str, client: ClientDep, holder: SalesKey, body: ResumeBody | None = None
) -> ManualAction:
    """Resume a paused lead's nurture."""
    request = ResumeRequest(by=holder.name, reason=body.reason if body else None)
    await on_lead(lead_id, _workflow(client, lead_id).signal(LeadWorkflow.resume, request))
    return ManualAction(lead_id=lead_id, action="resume", by=holder.name)


@router.post("/{lead_id}/erase", response_model=ManualAction)
async def erase(lead_id: str, client: ClientDep, db: DbDep, holder: ComplianceKey) -> ManualAction:
    """Erase the lead's marketing data; its address stays suppressed (hashed) and safety
    records are kept."""
    await erase_lead(client, db, lead_id, holder.name)
    return ManualAction(lead_id=lead_id, action="erase", by=holder.name)
