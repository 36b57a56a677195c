"""The HTTP API: event intake (Leadflow envelopes and Segment calls) and what ops, sales and
compliance need to see and do; Bearer API keys with scopes, OpenAPI at /docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from temporalio.client import Client

from leadflow_domain.payload_crypto import DataKeyStore
from models.db import connect_db, migrate
from models.program import load_program
from starter.api.errors import add_exception_handlers
from starter.api.routes import (
    codec,
    compliance,
    crm,
    events,
    health,
    identity,
    leads,
    outbox,
    segment,
    unsubscribe,
)
from starter.auth import SCOPES, KeyRing
from starter.settings import Settings
from starter.temporal import connect

__all__ = ["create_app", "make_keyring"]

ROUTERS = (
    health.router,
    events.router,
    outbox.router,
    leads.router,
    compliance.router,
    crm.router,
    unsubscribe.router,
    segment.router,
    identity.router,
    codec.router,
)


def make_keyring(settings: Settings, extra: dict[str, str] | None = None) -> KeyRing:
    """Bootstrap keys from settings, plus e.g. the dev key `leadflow up` creates."""
    ring = KeyRing()
    for api_key in settings.api_keys:
        ring.add(api_key.name, api_key.key.get_secret_value(), api_key.scopes)
    for name, secret in (extra or {}).items():
        ring.add(name, secret, SCOPES)  # `up`'s dev key may do everything
    return ring


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    db: Engine | None = None,
    keyring: KeyRing | None = None,
) -> FastAPI:
    """The API; a client and database passed in are used as they are (tests, `leadflow up`)."""
    app = FastAPI(
        title="Leadflow",
        version="0.1.0",
        summary="Durable, auditable lead nurturing, routing and sales handoff.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.program = load_program(settings.program)
    app.state.intake = None  # made on first use, once the client is connected
    app.state.client = client
    app.state.db = db
    app.state.keyring = keyring or make_keyring(settings)
    add_exception_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect what was not passed in: the database (migrated first) and the Temporal client."""
    state = app.state
    if state.db is None:
        state.db = connect_db(state.settings.resolved_database_url)
        await asyncio.to_thread(migrate, state.db)
    if state.client is None:
        # The data keys live in the database just connected: no second engine for them.
        keys = DataKeyStore(state.db, state.settings.resolved_master_key())
        state.client = await connect(state.settings, keys)
    yield
