"""WakeTimer: the lead workflow's one durable timer towards a wake-up time that can move."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow


class WakeTimer:
    """Sleeps until a wake-up time or until something else needs the workflow.

    One timer serves until the wake-up time moves, so a stream of events does not start and
    cancel a timer each (every start and cancel is a command in the history).
    """

    def __init__(self) -> None:
        self._timer: asyncio.Task[None] | None = None
        self._wake_at: datetime | None = None

    async def sleep(self, wake_at: datetime | None, interrupted: Callable[[], bool]) -> None:
        """Wait until `wake_at` (forever if None) or until `interrupted()` holds."""
        self._aim_at(wake_at)
        await workflow.wait_condition(lambda: interrupted() or self._fired())
        if self._fired():  # spent: the same wake-up time gets a new timer next time
            self._timer, self._wake_at = None, None

    def _aim_at(self, wake_at: datetime | None) -> None:
        if wake_at == self._wake_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._wake_at = None, wake_at
        if wake_at is not None:
            delay = max(wake_at - workflow.now(), timedelta(0))
            self._timer = asyncio.ensure_future(asyncio.sleep(delay.total_seconds()))

    def _fired(self) -> bool:
        return self._timer is not None and self._timer.done()
