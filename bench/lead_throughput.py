"""Events per second into lead workflows, and history per run, on the real dev server and worker.

Run: .venv/bin/python -m bench.lead_throughput [--single-events 5000] [--leads 1000]
     [--events-per-lead 3] [--concurrency 50] [--single-rate 100]

Everything runs against one dev server, one SMTP sink, one SQLite file and the worker from
`worker.build_worker` (search attributes on), in this process:

- one lead: the first page_viewed event through `starter.intake.Intake.submit`, the other
  `--single-events` - 1 as `record_event` signals, `--concurrency` in flight; done when the
  lead's `state` query shows `events_total` (carried across continue-as-new) at the count sent.
  Twice: paced at `--single-rate` events/s (skipped when 0), then as a burst (as fast as the
  server accepts them). The burst runs last: a lead that falls behind can leave its workflow
  task stuck in the worker, so a lead whose count stops growing for `--stall` seconds is
  reported as stalled, with the workflow task failures in its history;
- many leads: `--leads` leads x `--events-per-lead` events through `Intake.submit` (identity
  resolved in SQLite, then signal-with-start), round-robin over the leads, `--concurrency`
  calls in flight; done when every lead's `state` shows all its events applied;
- the single lead's history: every run of `lead-<lead_id>` (followed through continued-as-new
  run ids, cross-checked with the visibility list) and its length. Product requirement: every
  run stays under 2 000 events for a lead receiving 5 000 events.

Baseline, measured in the same run, sent the same way with the same payloads: a no-op workflow
defined here that only counts `record_event` signals and continues as new at the program's
history length. Leadflow's figures are given as ratios to it. The program's first touch is put
off by a day so no email goes out during the bench (the SMTP sink runs anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import yaml
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.worker import Worker

from bench.echo import NoOpInput, NoOpWorkflow
from bench.harness import drive, start_dev_server
from bench.throughput_report import Rate, Results, Runs, history_runs, print_footer, report
from models.db import connect_db, migrate
from models.events import LeadEvent, LeadEventIn
from models.lead_state import RECORD_EVENT, lead_workflow_id
from models.program import load_program
from starter.intake import Intake
from starter.logging import configure_logging
from starter.ports import free_port
from starter.settings import SAMPLE_PROGRAM, Settings
from starter.smtp_sink import SmtpSink
from tests.helpers.factories import event_payload
from worker import build_worker
from workflows.lead import LeadWorkflow

T = TypeVar("T")
TOPICS = ["mechanism_of_action"]
QUERY_TIMEOUT = timedelta(seconds=5)
POLL = 0.05


# -- helpers ---------------------------------------------------------------------------------


async def _query(call: Callable[[], Awaitable[T]]) -> T | None:
    """A query's answer, or None while the workflow cannot answer (mid continue-as-new, stuck)."""
    try:
        return await call()
    except (RPCError, WorkflowQueryFailedError):
        return None


async def _progress(
    count: Callable[[], Awaitable[int | None]], target: int, deadline: float, stall: float
) -> tuple[float | None, int | None]:
    """Poll `count` until it reaches `target`: (time it did, target); or, when it stopped growing
    for `stall` seconds or `deadline` passed, (None, last count seen or None if never answered)."""
    last: int | None = None
    moved = time.perf_counter()
    while True:
        seen = await count()
        now = time.perf_counter()
        if seen == target:
            return now, target
        if seen is not None and (last is None or seen > last):
            last, moved = seen, now
        if now - moved > stall or now > deadline:
            return None, last
        await asyncio.sleep(POLL)


async def _settle(handle: WorkflowHandle[object, object], deadline: float) -> None:
    """Wait until the current run is idle (continue-as-new and its first tasks done)."""
    while time.perf_counter() < deadline:
        raw = (await handle.describe()).raw_description
        if not raw.HasField("pending_workflow_task") and not raw.pending_activities:
            return
        await asyncio.sleep(POLL)


def _program(directory: Path) -> Path:
    raw = yaml.safe_load(SAMPLE_PROGRAM.read_text())
    raw["cadence"]["first_touch_delay"] = "P1D"
    path = directory / "program-bench.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _intake(email: str) -> LeadEventIn:
    return LeadEventIn.model_validate(
        event_payload(
            type="page_viewed",
            email=email,
            properties={"url": "https://corvanta.example/moa", "topics": TOPICS},
        )
    )


def _signal_event(email: str) -> LeadEvent:
    return LeadEvent.from_intake(_intake(email))


# -- phases ----------------------------------------------------------------------------------


@dataclass
class Bench:
    client: Client
    db: Engine
    lead_queue: str
    noop_queue: str
    max_history: int
    concurrency: int
    timeout: float
    stall: float

    async def noop_single(self, events: int, rate: float) -> tuple[Rate, Runs]:
        wid = f"bench-noop-single-{uuid.uuid4().hex[:8]}"
        email = "noop-single@clinic.example"
        start = time.perf_counter()
        await self.client.start_workflow(
            NoOpWorkflow.run,
            NoOpInput(self.max_history),
            id=wid,
            task_queue=self.noop_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=RECORD_EVENT,
            start_signal_args=[_signal_event(email)],
        )
        handle = self.client.get_workflow_handle(wid)  # no run id: follows continue-as-new
        await drive(
            range(events - 1),
            lambda _: handle.signal(NoOpWorkflow.record_event, _signal_event(email)),
            self.concurrency,
            rate,
        )
        accepted = time.perf_counter()

        async def count() -> int | None:
            return await _query(lambda: handle.query(NoOpWorkflow.count, rpc_timeout=QUERY_TIMEOUT))

        applied, seen = await _progress(count, events, start + self.timeout, self.stall)
        await _settle(handle, time.perf_counter() + 60)
        name = f"no-op: 1 workflow x N signals, {_pace(rate)}"
        return Rate(
            name, events, accepted - start, _since(start, applied), seen
        ), await history_runs(self.client, wid)

    async def noop_many(self, workflows: int, per_workflow: int) -> Rate:
        tag = uuid.uuid4().hex[:8]
        ids = [f"bench-noop-{tag}-{n}" for n in range(workflows)]
        sends = [wid for _ in range(per_workflow) for wid in ids]  # round-robin

        async def send(wid: str) -> None:
            await self.client.start_workflow(
                NoOpWorkflow.run,
                NoOpInput(self.max_history),
                id=wid,
                task_queue=self.noop_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal=RECORD_EVENT,
                start_signal_args=[_signal_event(f"{wid}@clinic.example")],
            )

        async def count(wid: str) -> int | None:
            handle = self.client.get_workflow_handle(wid)
            return await _query(lambda: handle.query(NoOpWorkflow.count, rpc_timeout=QUERY_TIMEOUT))

        name = f"no-op: N workflows x {per_workflow} signal-with-start"
        return await self._many(name, sends, send, ids, count, per_workflow)

    async def lead_many(self, leads: int, per_lead: int) -> Rate:
        tag = uuid.uuid4().hex[:6]
        emails = [f"hcp{n}-{tag}@clinic.example" for n in range(leads)]
        sends = [email for _ in range(per_lead) for email in emails]  # round-robin
        lead_of: dict[str, str] = {}

        async def send(email: str) -> None:
            [result] = await Intake(self.client, self.db, self.lead_queue).submit([_intake(email)])
            if lead_of.setdefault(email, result.lead_id) != result.lead_id:
                raise AssertionError(f"{email} resolved to two leads")

        async def count(lead_id: str) -> int | None:
            state = await _query(
                lambda: self.client.get_workflow_handle(lead_workflow_id(lead_id)).query(
                    LeadWorkflow.state, rpc_timeout=QUERY_TIMEOUT
                )
            )
            return None if state is None else state.events_total

        name = f"Leadflow: N leads x {per_lead} Intake.submit"
        return await self._many(name, sends, send, lambda: set(lead_of.values()), count, per_lead)

    async def _many(
        self,
        name: str,
        sends: list[str],
        send: Callable[[str], Awaitable[None]],
        keys: Iterable[str] | Callable[[], Iterable[str]],
        count: Callable[[str], Awaitable[int | None]],
        per_key: int,
    ) -> Rate:
        start = time.perf_counter()
        await drive(sends, send, self.concurrency)
        accepted = time.perf_counter()
        pending = set(keys() if callable(keys) else keys)
        total = len(pending)

        async def check(key: str) -> None:
            if await count(key) == per_key:
                pending.discard(key)

        async def done() -> int:
            await drive(list(pending), check, self.concurrency)
            return total - len(pending)

        applied, seen = await _progress(done, total, start + self.timeout, self.stall)
        applied_events = None if seen is None else seen * per_key
        return Rate(name, len(sends), accepted - start, _since(start, applied), applied_events)

    async def lead_single(self, events: int, rate: float) -> tuple[Rate, str]:
        email = f"hcp-single-{uuid.uuid4().hex[:6]}@clinic.example"
        start = time.perf_counter()
        [result] = await Intake(self.client, self.db, self.lead_queue).submit([_intake(email)])
        wid = lead_workflow_id(result.lead_id)
        handle = self.client.get_workflow_handle(wid)
        await drive(
            range(events - 1),
            lambda _: handle.signal(LeadWorkflow.record_event, _signal_event(email)),
            self.concurrency,
            rate,
        )
        accepted = time.perf_counter()

        async def count() -> int | None:
            state = await _query(
                lambda: handle.query(LeadWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
            )
            return None if state is None else state.events_total

        applied, seen = await _progress(count, events, start + self.timeout, self.stall)
        if applied is not None:
            await _settle(handle, time.perf_counter() + 60)
        name = f"Leadflow: 1 lead x N signals, {_pace(rate)}"
        return Rate(name, events, accepted - start, _since(start, applied), seen), wid


def _pace(rate: float) -> str:
    return f"{rate:g}/s" if rate else "burst"


def _since(start: float, end: float | None) -> float | None:
    return None if end is None else end - start


# -- report ----------------------------------------------------------------------------------


def _settings(directory: Path, sink: SmtpSink) -> Settings:
    return Settings(
        task_queue=f"bench-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{directory / 'bench.db'}",
        smtp_host=sink.host,
        smtp_port=sink.port,
        program=_program(directory),
        data_dir=directory,
    )


async def _measure(bench: Bench, args: argparse.Namespace, sink: SmtpSink) -> Results:
    results = Results()
    if args.single_rate:
        noop_paced, noop_paced_runs = await bench.noop_single(args.single_events, args.single_rate)
        lead_paced, wid = await bench.lead_single(args.single_events, args.single_rate)
        paced_runs = await history_runs(bench.client, wid)
        results.singles.append((noop_paced, noop_paced_runs, lead_paced, paced_runs))
    noop_burst, noop_burst_runs = await bench.noop_single(args.single_events, 0)
    results.noop_one = await bench.noop_many(args.leads, 1)
    results.noop_many = await bench.noop_many(args.leads, args.events_per_lead)
    results.lead_many = await bench.lead_many(args.leads, args.events_per_lead)
    # Last: a lead that falls behind can leave its workflow task stuck in the worker.
    lead_burst, wid = await bench.lead_single(args.single_events, 0)
    burst_runs = await history_runs(bench.client, wid)
    results.singles.append((noop_burst, noop_burst_runs, lead_burst, burst_runs))
    results.emails = len(sink.messages)
    return results


async def _stop(workers: list[Worker], running: list[asyncio.Task[None]]) -> list[str]:
    """Shut the workers down; a note for each that did not within 30 s."""
    notes = []
    for worker, task in zip(workers, running, strict=True):
        try:
            await asyncio.wait_for(worker.shutdown(), 30)
        except TimeoutError:
            queue = worker.config()["task_queue"]
            notes.append(f"the worker on {queue} did not shut down within 30 s")
            task.cancel()
    return notes


async def main(args: argparse.Namespace) -> int:
    configure_logging(logging.WARNING)
    wall = time.perf_counter()
    directory = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    env = await start_dev_server(directory, encrypt=not args.no_codec)
    sink = SmtpSink("127.0.0.1", free_port())
    sink.start()
    settings = _settings(directory, sink)
    max_history = load_program(settings.program).long_life.max_history_events
    db = connect_db(settings.resolved_database_url)
    migrate(db)
    bench = _bench(env.client, db, settings, max_history, args)
    workers = [
        build_worker(env.client, settings, db, search_attributes=True),
        Worker(env.client, task_queue=bench.noop_queue, workflows=[NoOpWorkflow]),
    ]
    running = [asyncio.create_task(w.run()) for w in workers]
    try:
        results = await _measure(bench, args, sink)
    finally:
        notes = await _stop(workers, running)
        sink.stop()
        await env.shutdown()
        db.dispose()
        shutil.rmtree(directory, ignore_errors=True)
    met = report(args, results, max_history)
    print_footer(args, notes, wall)
    return 0 if met and not notes else 1


def _bench(
    client: Client, db: Engine, settings: Settings, max_history: int, args: argparse.Namespace
) -> Bench:
    return Bench(
        client,
        db,
        settings.task_queue,
        f"bench-noop-{uuid.uuid4().hex[:8]}",
        max_history,
        args.concurrency,
        args.timeout,
        args.stall,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single-events", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--events-per-lead", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight")
    parser.add_argument(
        "--single-rate",
        type=float,
        default=100,
        help="events/s of the extra paced single-workflow pair (0: burst only)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase")
    parser.add_argument("--stall", type=float, default=60, help="seconds without progress")
    parser.add_argument(
        "--no-codec", action="store_true", help="payloads in clear (the codec's cost, by contrast)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
