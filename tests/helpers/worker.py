"""The worker as the app runs it, inside the test process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from starter.settings import Settings
from worker import build_worker, prepare_database


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, db: Engine, *, search_attributes: bool = False
) -> AsyncIterator[Worker]:
    """The app's worker for `settings`, running until the block ends."""
    prepare_database(db, settings)
    worker = build_worker(client, settings, db, search_attributes=search_attributes)
    async with worker:
        yield worker
