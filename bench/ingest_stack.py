"""The stack under test for `bench.ingest`, in a process of its own: `leadflow up`'s
`run_stack` (worker, API on uvicorn, SMTP sink) against an existing dev server, plus the
baseline's echo worker on its own task queue, with logging at WARNING.

Settings come from the `LEADFLOW_*` environment as for `leadflow up`; `BENCH_ECHO_QUEUE`
names the echo worker's task queue. Each intake step (`starter.intake`'s preparation functions
and `Intake` methods) is
timed: SIGUSR1 starts a measuring window, SIGUSR2 writes the step times of the window to
`BENCH_STEPS` (JSON) and, with `BENCH_PROFILE` set to a path, the window's cProfile stats of
the event-loop thread there. SIGTERM stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from bench.echo import EchoWorkflow
from starter.intake import deliver, prepare
from starter.intake.deliver import Intake
from starter.logging import configure_logging
from starter.settings import Settings
from starter.stack import run_stack
from starter.temporal import connect


def _announce(line: str) -> None:
    print(line, flush=True)


class StepTimes:
    """Wall seconds spent in each intake step (in its thread, for the blocking ones)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}

    def wrap(self, module: Any, attribute: str, name: str) -> None:
        original = getattr(module, attribute)
        times = self.seconds.setdefault(name, [])
        if asyncio.iscoroutinefunction(original):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    times.append(time.perf_counter() - start)

            setattr(module, attribute, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    times.append(time.perf_counter() - start)

            setattr(module, attribute, timed)

    def reset(self) -> None:
        for times in self.seconds.values():
            times.clear()


def _instrument() -> StepTimes:
    steps = StepTimes()
    # Names are kept as before so reports stay comparable across versions.
    for name, owner, attribute in (
        ("_delivered_to", prepare, "delivered_to"),
        ("_prepare", prepare, "prepare"),
        ("_mark_delivered", deliver, "mark_delivered"),
        ("deliver", Intake, "deliver"),
        ("_follow_up", Intake, "_follow_up"),
        ("submit_events", Intake, "submit"),
    ):
        steps.wrap(owner, attribute, name)
    return steps


def _windows(steps: StepTimes, steps_path: str | None, profile_path: str | None) -> None:
    profile = cProfile.Profile() if profile_path else None
    loop = asyncio.get_running_loop()

    def start() -> None:
        steps.reset()
        if profile is not None:
            profile.enable()

    def stop() -> None:
        if profile is not None and profile_path:
            profile.disable()
            profile.dump_stats(profile_path)
        if steps_path:
            Path(steps_path).write_text(json.dumps(steps.seconds))

    loop.add_signal_handler(signal.SIGUSR1, start)
    loop.add_signal_handler(signal.SIGUSR2, stop)


async def main() -> None:
    configure_logging(logging.WARNING)
    settings = Settings()
    _windows(_instrument(), os.environ.get("BENCH_STEPS"), os.environ.get("BENCH_PROFILE"))
    client = await connect(settings)
    echo = Worker(client, task_queue=os.environ["BENCH_ECHO_QUEUE"], workflows=[EchoWorkflow])
    echo_task = asyncio.create_task(echo.run())
    try:
        await run_stack(settings, _announce)
    finally:
        await echo.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await echo_task


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
