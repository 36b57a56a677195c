"""The HTTP API: event intake and what ops need to see (DESIGN §5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape as html_escape
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from leadflow_domain.tokens import lead_for_token
from models.db import connect_db, migrate
from models.events import EventBatchIn, EventDecided, EventResult, EventsAccepted, LeadEventIn
from models.lead_state import (
    DecisionLog,
    LeadState,
    PauseRequest,
    ResumeRequest,
    ReviewDecision,
    ReviewRecordResult,
    lead_workflow_id,
)
from models.program import load_program
from models.queries import list_reviews, list_tasks, task_summary
from models.routing import RejectReason, TaskAction, TaskActionResult
from models.tables import ComplianceReviewPublic, CrmTaskPublic, OutboxMessage, OutboxMessagePublic
from starter.audit import AuditTrail, as_csv, audit_trail, complete_decisions
from starter.auth import KeyHolder, KeyRing
from starter.erasure import UnknownLead, erase_lead
from starter.identity import IdentityConflict, find_lead_ids
from starter.identity_api import identity_router
from starter.intake import MAX_BODY_BYTES, EventPayloadError, parse_body
from starter.keys import key_holder
from starter.review_decisions import ReviewNotOpen, UnknownReview, decide_review
from starter.segment import intake_of
from starter.segment import router as segment_router
from starter.settings import Settings
from starter.task_actions import TaskNotOpen, UnknownTask, WrongTeam, act_on_task
from starter.temporal import connect
from workflows.lead import LeadWorkflow

_bearer = HTTPBearer(auto_error=False)


def make_keyring(settings: Settings, extra: dict[str, str] | None = None) -> KeyRing:
    """Bootstrap keys from settings, plus e.g. the dev key `leadflow up` creates."""
    ring = KeyRing()
    for api_key in settings.api_keys:
        ring.add(api_key.name, api_key.key.get_secret_value(), api_key.scopes)
    for name, secret in (extra or {}).items():
        ring.add(name, secret, ("events:write", "leads:read", "sales:act", "compliance:act"))
    return ring


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    db: Engine | None = None,
    keyring: KeyRing | None = None,
) -> FastAPI:
    """The API; a client and database passed in are used as they are (tests, `leadflow up`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if db is None:
            app.state.db = connect_db(settings.resolved_database_url)
            await asyncio.to_thread(migrate, app.state.db)
        if client is None:
            app.state.client = await connect(settings)
        yield

    app = FastAPI(
        title="Leadflow",
        version="0.1.0",
        summary="Durable, auditable lead nurturing, routing and sales handoff.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.program = load_program(settings.program)
    app.state.intake = None
    app.state.client = client
    app.state.db = db
    app.state.keyring = keyring or make_keyring(settings)
    app.add_exception_handler(EventPayloadError, _payload_error)  # type: ignore[arg-type]
    app.add_exception_handler(IdentityConflict, _identity_conflict)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_error)  # type: ignore[arg-type]
    app.include_router(_routes())
    app.include_router(segment_router)
    app.include_router(identity_router())
    return app


def _identity_conflict(_: Request, err: IdentityConflict) -> JSONResponse:
    return JSONResponse(status_code=409, content={"message": str(err)})


def _payload_error(_: Request, err: EventPayloadError) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"message": str(err), "errors": err.problems},
    )


def _request_error(_: Request, err: RequestValidationError) -> JSONResponse:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(status_code=422, content={"message": message, "errors": problems})


def _client(request: Request) -> Client:
    return request.app.state.client  # type: ignore[no-any-return]


def _engine(request: Request) -> Engine:
    return request.app.state.db  # type: ignore[no-any-return]


def require(scope: str, *alternatives: str) -> Any:
    """A dependency admitting only keys that hold `scope` (or one of the alternatives)."""

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> KeyHolder:
        if credentials is None:
            raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'")
        state = request.app.state
        holder = key_holder(state.keyring, state.db, credentials.credentials)
        if holder is None:
            raise HTTPException(401, "unknown or revoked API key")
        wanted = (scope, *alternatives)
        if not set(wanted) & set(holder.scopes):
            named = "' or '".join(wanted)
            raise HTTPException(403, f"this API key lacks the '{named}' scope")
        return holder  # type: ignore[no-any-return]

    return Depends(check)


ClientDep = Annotated[Client, Depends(_client)]
EngineDep = Annotated[Engine, Depends(_engine)]
# Who may act on CRM tasks: sales, or compliance for medical-side tasks (checked per task).
ActingKey = Annotated[KeyHolder, require("sales:act", "compliance:act")]

EVENT_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        LeadEventIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                        EventBatchIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                    ]
                }
            }
        },
    }
}


def _routes() -> Any:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/health", tags=["ops"])
    async def health(request: Request) -> dict[str, str]:
        """Liveness of the API and its connections."""
        return {"status": "ok", "task_queue": request.app.state.settings.task_queue}

    @router.post(
        "/v1/events",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["events"],
        openapi_extra=EVENT_BODY_SCHEMA,
        dependencies=[require("events:write")],
        response_model=EventResult | EventsAccepted | EventDecided,
    )
    async def post_events(
        request: Request,
        client: ClientDep,
        db: EngineDep,
        wait: Annotated[
            bool, Query(description="single event only: wait for the lead's decision")
        ] = False,
    ) -> EventResult | EventsAccepted | EventDecided:
        """Accept one event or `{"events": [...]}`; 422 names any bad field."""
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type:
            raise HTTPException(415, "send the events as application/json")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes; send smaller batches")
        parsed = parse_body(body)
        events, is_batch = parsed.events, parsed.is_batch
        if wait:
            if is_batch:
                raise HTTPException(422, "wait=true takes one event, not a batch")
            try:
                lead_id, outcome = await intake_of(request).submit_and_wait(events[0])
            except WorkflowUpdateFailedError as err:
                raise HTTPException(422, f"the lead refused the event: {err.cause}") from err
            status_ = "duplicate" if outcome.status == "duplicate" else "accepted"
            return EventDecided(
                event_id=outcome.event_id,
                lead_id=lead_id,
                status=status_,
                outcome=outcome.model_dump(mode="json"),
            )
        results = await intake_of(request).submit(events)
        if not is_batch:
            return results[0]
        return EventsAccepted(results=[*results, *parsed.rejected])

    @router.get(
        "/v1/outbox",
        tags=["ops"],
        dependencies=[require("leads:read")],
        response_model=list[OutboxMessagePublic],
    )
    def outbox(
        db: EngineDep, lead_id: Annotated[str | None, Query(max_length=40)] = None
    ) -> list[OutboxMessagePublic]:
        """Messages sent, newest first, with asset id and version."""
        with Session(db) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
            if lead_id:
                query = query.where(OutboxMessage.lead_id == lead_id)
            rows = session.exec(query.limit(500)).all()
            return [OutboxMessagePublic.model_validate(row) for row in rows]

    @router.get(
        "/v1/leads",
        tags=["leads"],
        dependencies=[require("leads:read")],
        response_model=LeadsFound,
    )
    def find_leads(
        db: EngineDep,
        email: Annotated[str | None, Query(max_length=320)] = None,
        npi: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        crm_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> LeadsFound:
        """Find a lead by an exact identifier; answers with opaque lead ids only."""
        if not (email or npi or crm_id):
            raise HTTPException(422, "give one of email, npi, crm_id")
        with Session(db) as session:
            return LeadsFound(lead_ids=find_lead_ids(session, email=email, npi=npi, crm_id=crm_id))

    @router.get(
        "/v1/leads/{lead_id}",
        tags=["leads"],
        dependencies=[require("leads:read")],
        response_model=LeadState,
    )
    async def lead_state(lead_id: str, client: ClientDep) -> LeadState:
        """The lead's state as its workflow holds it now."""
        handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
        return await _query(handle.query(LeadWorkflow.state), lead_id)

    @router.get(
        "/v1/leads/{lead_id}/decisions",
        tags=["leads"],
        dependencies=[require("leads:read")],
        response_model=DecisionLog,
    )
    async def lead_decisions(lead_id: str, client: ClientDep, db: EngineDep) -> DecisionLog:
        """The lead's complete decision log: archived runs, then the running one."""
        return await _query(complete_decisions(client, db, lead_id), lead_id)  # type: ignore[no-any-return]

    @router.get(
        "/v1/leads/{lead_id}/audit",
        tags=["leads"],
        dependencies=[require("leads:read")],
        response_model=AuditTrail,
    )
    async def lead_audit(
        request: Request,
        lead_id: str,
        client: ClientDep,
        db: EngineDep,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Any:
        """The lead's complete audit trail, as JSON or CSV, with a link to its workflow."""
        settings: Settings = request.app.state.settings
        trail: AuditTrail = await _query(audit_trail(client, db, settings, lead_id), lead_id)
        if format == "csv":
            return PlainTextResponse(
                as_csv(trail),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{lead_id}-audit.csv"'},
            )
        return trail

    @router.post(
        "/v1/leads/{lead_id}/pause",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["sales"],
        response_model=ManualAction,
    )
    async def pause_lead(
        lead_id: str,
        body: PauseBody,
        client: ClientDep,
        holder: Annotated[KeyHolder, require("sales:act")],
    ) -> ManualAction:
        """Pause promotional nurture for one lead; the acting key's name is the actor."""
        handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
        request = PauseRequest(by=holder.name, reason=body.reason, until=body.until)
        await _query(handle.signal(LeadWorkflow.pause, request), lead_id)
        return ManualAction(lead_id=lead_id, action="pause", by=holder.name)

    @router.post(
        "/v1/leads/{lead_id}/resume",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["sales"],
        response_model=ManualAction,
    )
    async def resume_lead(
        lead_id: str,
        client: ClientDep,
        holder: Annotated[KeyHolder, require("sales:act")],
        body: ResumeBody | None = None,
    ) -> ManualAction:
        """Resume a paused lead's nurture."""
        handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
        request = ResumeRequest(by=holder.name, reason=body.reason if body else None)
        await _query(handle.signal(LeadWorkflow.resume, request), lead_id)
        return ManualAction(lead_id=lead_id, action="resume", by=holder.name)

    @router.post(
        "/v1/leads/{lead_id}/erase",
        tags=["compliance"],
        response_model=ManualAction,
    )
    async def erase(
        lead_id: str,
        client: ClientDep,
        db: EngineDep,
        holder: Annotated[KeyHolder, require("compliance:act")],
    ) -> ManualAction:
        """Erase the lead's marketing data; its address stays suppressed (hashed) and safety
        records are kept."""
        try:
            await erase_lead(client, db, lead_id, holder.name)
        except UnknownLead as err:
            raise HTTPException(404, f"no lead {lead_id}") from err
        return ManualAction(lead_id=lead_id, action="erase", by=holder.name)

    @router.get(
        "/v1/compliance/reviews",
        tags=["compliance"],
        dependencies=[require("compliance:act")],
        response_model=list[ComplianceReviewPublic],
    )
    def compliance_reviews(
        db: EngineDep,
        review_status: Annotated[
            str | None, Query(alias="status", pattern="^(open|escalated|released|blocked)$")
        ] = None,
    ) -> list[ComplianceReviewPublic]:
        """Leads held for compliance review, oldest first."""
        return [ComplianceReviewPublic.model_validate(r) for r in list_reviews(db, review_status)]

    @router.post(
        "/v1/compliance/reviews/{review_id}/decide",
        tags=["compliance"],
        response_model=ReviewRecordResult,
    )
    async def decide_compliance_review(
        review_id: str,
        body: ReviewBody,
        client: ClientDep,
        db: EngineDep,
        holder: Annotated[KeyHolder, require("compliance:act")],
    ) -> ReviewRecordResult:
        """Release (resume where it stopped) or block (disqualify) a held lead."""
        decision = ReviewDecision(
            review_id=review_id,
            reviewer=body.reviewer,
            decision=body.decision,
            note=body.note,
            actor=holder.name,
        )
        try:
            return await decide_review(client, db, decision)
        except UnknownReview as err:
            raise HTTPException(404, str(err)) from err
        except ReviewNotOpen as err:
            raise HTTPException(409, str(err)) from err

    @router.get("/v1/crm/tasks", tags=["sales"], dependencies=[require("leads:read")])
    def crm_tasks(
        db: EngineDep,
        queue: Annotated[str | None, Query(max_length=80)] = None,
        task_status: Annotated[
            str | None,
            Query(alias="status", pattern="^(open|accepted|rejected|closed|escalated)$"),
        ] = None,
        lead_id: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[CrmTaskPublic]:
        """CRM tasks in the embedded CRM, newest first, with the context each team needs."""
        tasks = list_tasks(db, queue=queue, status=task_status, lead_id=lead_id, limit=limit)
        return [CrmTaskPublic.model_validate(t) for t in tasks]

    @router.get("/v1/crm/summary", tags=["sales"], dependencies=[require("leads:read")])
    def crm_summary(db: EngineDep) -> dict[str, Any]:
        """Tasks per queue and status, and the reject reasons given so far, counted."""
        return task_summary(db)

    async def _act(
        client: Client, db: Engine, holder: KeyHolder, **action: Any
    ) -> TaskActionResult:
        try:
            request = TaskAction(actor=holder.name, **action)
            return await act_on_task(client, db, request, scopes=holder.scopes)
        except UnknownTask as err:
            raise HTTPException(404, str(err)) from err
        except TaskNotOpen as err:
            raise HTTPException(409, str(err)) from err
        except WrongTeam as err:
            raise HTTPException(403, str(err)) from err

    @router.post("/v1/crm/tasks/{task_id}/accept", tags=["sales"])
    async def accept_task(
        task_id: str,
        client: ClientDep,
        db: EngineDep,
        holder: ActingKey,
        body: TaskNoteBody | None = None,
    ) -> TaskActionResult:
        """The queue takes the lead: sales_accepted for a sales task (the SLA is met)."""
        note = body.note if body else None
        return await _act(client, db, holder, task_id=task_id, action="accept", note=note)

    @router.post("/v1/crm/tasks/{task_id}/reject", tags=["sales"])
    async def reject_task(
        task_id: str, body: RejectBody, client: ClientDep, db: EngineDep, holder: ActingKey
    ) -> TaskActionResult:
        """Send the lead back with a reason code: recycled to nurture on the reason's track."""
        return await _act(client, db, holder, task_id=task_id, action="reject", **body.model_dump())

    @router.post("/v1/crm/tasks/{task_id}/close", tags=["sales"])
    async def close_task(
        task_id: str, body: CloseBody, client: ClientDep, db: EngineDep, holder: ActingKey
    ) -> TaskActionResult:
        """Close the task with its outcome (a sales task closes the lead)."""
        return await _act(client, db, holder, task_id=task_id, action="close", **body.model_dump())

    @router.get("/v1/unsubscribe", tags=["recipients"], response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: Annotated[str, Query(max_length=300)]) -> str:
        """The page an email's unsubscribe link opens: one button, no login."""
        _lead_for(request, token)
        return UNSUBSCRIBE_PAGE.format(token=html_escape(token))

    @router.post("/v1/unsubscribe", tags=["recipients"], response_class=HTMLResponse)
    async def unsubscribe(
        request: Request,
        client: ClientDep,
        db: EngineDep,
        token: Annotated[str, Query(max_length=300)],
    ) -> str:
        """One-click unsubscribe (RFC 8058): recorded in the consent ledger and sent to the
        lead as a `consent_withdrawn` event; promotional email stops at once."""
        lead_id = _lead_for(request, token)
        await intake_of(request).withdraw_by_link(lead_id)
        return UNSUBSCRIBED_PAGE

    return router


def _lead_for(request: Request, token: str) -> str:
    settings: Settings = request.app.state.settings
    lead_id = lead_for_token(settings.resolved_signing_key(), token)
    if lead_id is None:
        raise HTTPException(400, "this unsubscribe link is not valid; reply to the email instead")
    return lead_id


UNSUBSCRIBE_PAGE = """<!doctype html><html><body>
<h1>Unsubscribe</h1><p>Stop receiving these emails?</p>
<form method="post" action="/v1/unsubscribe?token={token}">
<button type="submit">Unsubscribe</button></form></body></html>"""
UNSUBSCRIBED_PAGE = """<!doctype html><html><body>
<h1>You are unsubscribed</h1><p>You will receive no further promotional email from us.</p>
</body></html>"""


class ReviewBody(BaseModel):
    decision: Literal["release", "block"]
    reviewer: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class TaskNoteBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class RejectBody(BaseModel):
    reason: RejectReason = Field(description="not_ready | wrong_contact | no_fit | duplicate | ...")
    note: str | None = Field(default=None, max_length=2000)


class CloseBody(BaseModel):
    outcome: str = Field(min_length=1, max_length=200, description="e.g. won, lost, no_decision")
    note: str | None = Field(default=None, max_length=2000)


class LeadsFound(BaseModel):
    lead_ids: list[str]


class ManualAction(BaseModel):
    """A manual intervention, accepted for delivery to the lead (it shows in the decision log)."""

    lead_id: str
    action: str
    by: str


class PauseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    until: AwareDatetime | None = None


class ResumeBody(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


async def _query(call: Any, lead_id: str) -> Any:
    try:
        return await call
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no lead {lead_id}") from err
        raise
