"""What the routes depend on: the app's client, database, intake service, settings and program,
and the API key a request acts with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from temporalio.client import Client

from models.program import Program
from starter.auth import KeyHolder, KeyRing
from starter.intake import Intake, IntakeRules
from starter.keys import key_holder
from starter.settings import Settings

_bearer = HTTPBearer(auto_error=False)


async def get_client(request: Request) -> Client:
    """The Temporal client."""
    return request.app.state.client  # type: ignore[no-any-return]


async def get_db(request: Request) -> Engine:
    """The Leadflow database."""
    return request.app.state.db  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_program(request: Request) -> Program:
    """The program the app was started with."""
    return request.app.state.program  # type: ignore[no-any-return]


async def get_keyring(request: Request) -> KeyRing:
    """The bootstrap API keys (stored keys are looked up in the database)."""
    return request.app.state.keyring  # type: ignore[no-any-return]


async def get_intake(request: Request) -> Intake:
    """The app's one intake service, made on first use: by then the client and the database
    are connected (in the app's lifespan, or passed in)."""
    state = request.app.state
    if state.intake is None:
        rules = IntakeRules.of(state.program)
        state.intake = Intake(state.client, state.db, state.settings.task_queue, rules)
    return state.intake  # type: ignore[no-any-return]


ClientDep = Annotated[Client, Depends(get_client)]
DbDep = Annotated[Engine, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ProgramDep = Annotated[Program, Depends(get_program)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
IntakeDep = Annotated[Intake, Depends(get_intake)]


def require(scope: str, *alternatives: str) -> Any:
    """A dependency admitting only keys that hold `scope` (or one of the alternatives)."""

    def check(
        keyring: KeyRingDep,
        db: DbDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> KeyHolder:
        if credentials is None:
            raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'")
        holder = key_holder(keyring, db, credentials.credentials)
        if holder is None:
            raise HTTPException(401, "unknown or revoked API key")
        wanted = (scope, *alternatives)
        if not set(wanted) & set(holder.scopes):
            named = "' or '".join(wanted)
            raise HTTPException(403, f"this API key lacks the '{named}' scope")
        return holder

    return Depends(check)


SalesKey = Annotated[KeyHolder, require("sales:act")]
ComplianceKey = Annotated[KeyHolder, require("compliance:act")]
CodecKey = Annotated[KeyHolder, require("codec:decode")]
# Who may act on CRM tasks: sales, or compliance for medical-side tasks (checked per task).
ActingKey = Annotated[KeyHolder, require("sales:act", "compliance:act")]


def status_filter(*statuses: str) -> Any:
    """A `?status=` query parameter admitting only these values."""
    return Query(alias="status", pattern=f"^({'|'.join(statuses)})$")
