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
import collections
import logging
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from temporalio import workflow

# The no-op baseline workflow lives in this module, so the sandbox re-imports the module for every
# run: everything else is passed through, as workflows/lead.py does.
with workflow.unsafe.imports_passed_through():
    import yaml
    from sqlalchemy.engine import Engine
    from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
    from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.service import RPCError
    from temporalio.worker import Worker

    from bench.harness import drive, start_dev_server
    from models.db import connect_db, migrate
    from models.events import LeadEvent, LeadEventIn
    from models.lead_state import RECORD_EVENT, lead_workflow_id
    from models.program import load_program
    from starter.intake import Intake
    from starter.logging import configure_logging
    from starter.ports import free_port
    from starter.settings import SAMPLE_PROGRAM, Settings
    from starter.smtp_sink import SmtpSink
    from tests.factories import event_payload
    from worker import build_worker
    from workflows.lead import LeadWorkflow

T = TypeVar("T")
HISTORY_LIMIT = 2_000  # the product requirement for every run of a lead
TOPICS = ["mechanism_of_action"]
QUERY_TIMEOUT = timedelta(seconds=5)
POLL = 0.05


# -- the baseline workflow -------------------------------------------------------------------


@dataclass
class NoOpInput:
    max_history_events: int
    count: int = 0


@workflow.defn(name="BenchNoOp")
class NoOpWorkflow:
    """Counts `record_event` signals; continues as new at the program's history length."""

    @workflow.init
    def __init__(self, input: NoOpInput) -> None:
        self._count = input.count

    @workflow.run
    async def run(self, input: NoOpInput) -> None:
        def long() -> bool:
            info = workflow.info()
            return (
                info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= input.max_history_events
            )

        await workflow.wait_condition(long)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(NoOpInput(input.max_history_events, self._count))

    @workflow.signal(name=RECORD_EVENT)
    def record_event(self, event: LeadEvent) -> None:
        self._count += 1

    @workflow.query
    def count(self) -> int:
        return self._count


# -- figures ---------------------------------------------------------------------------------


@dataclass
class Rate:
    name: str
    events: int
    accepted_s: float  # first send -> last send acknowledged by the server
    applied_s: float | None  # first send -> every event seen applied (None: stalled)
    applied: int | None  # events seen applied at the end (None: the query never answered)

    @property
    def accepted_per_s(self) -> float:
        return self.events / self.accepted_s

    @property
    def applied_per_s(self) -> float | None:
        return None if self.applied_s is None else self.events / self.applied_s


@dataclass
class Runs:
    lengths: list[int]  # history events per run, oldest run first
    listed: int  # runs the visibility store lists for the workflow id
    task_failures: collections.Counter[str] = field(default_factory=collections.Counter)
    pending_task_attempt: int = 0  # attempt of the current run's pending workflow task

    @property
    def total(self) -> int:
        return sum(self.lengths)


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


async def _runs(client: Client, wid: str) -> Runs:
    """Every run of `wid`, following continued-as-new run ids back from the current run."""
    description = await client.get_workflow_handle(wid).describe()
    run_id: str | None = description.run_id
    lengths, failures = [], collections.Counter[str]()
    while run_id:
        history = await client.get_workflow_handle(wid, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = event.workflow_task_failed_event_attributes.cause
                failures[
                    WorkflowTaskFailedCause.Name(cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
                ] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                failures["TIMED_OUT"] += 1
        first = history.events[0].workflow_execution_started_event_attributes
        run_id = first.continued_execution_run_id
    listed = len([w async for w in client.list_workflows(f"WorkflowId = '{wid}'")])
    pending = description.raw_description.pending_workflow_task
    return Runs(list(reversed(lengths)), listed, failures, pending.attempt)


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
        return Rate(name, events, accepted - start, _since(start, applied), seen), await _runs(
            self.client, wid
        )

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


def _row(rate: Rate, baseline: Rate | None) -> str:
    applied = rate.applied_per_s
    if applied is None:
        seen = "no answer to queries" if rate.applied is None else f"{rate.applied} applied"
        figure = f"STALLED ({seen})"
        return f"{rate.name:<44} {rate.events:>6} {rate.accepted_per_s:>11.1f}   {figure}"
    base = baseline.applied_per_s if baseline else None
    ratio = f"{applied / base:.2f}x" if base else "-"
    return (
        f"{rate.name:<44} {rate.events:>6} {rate.accepted_per_s:>11.1f} {applied:>10.1f} {ratio:>9}"
    )


def _runs_line(name: str, runs: Runs, events: int) -> str:
    failures = ", ".join(f"{k}={v}" for k, v in sorted(runs.task_failures.items())) or "none"
    return (
        f"{name:<18} runs={len(runs.lengths)} (listed {runs.listed})  max/run={max(runs.lengths)}  "
        f"total={runs.total}  per event={runs.total / events:.2f}  per run={runs.lengths}\n"
        f"{'':<18} workflow task failures/timeouts in history: {failures}; "
        f"pending workflow task attempt: {runs.pending_task_attempt or '-'}"
    )


@dataclass
class Results:
    """What one run measured: single-workflow phases (no-op, Leadflow; paced, then burst),
    many workflows, and emails sent (there should be none)."""

    singles: list[tuple[Rate, Runs, Rate, Runs]] = field(default_factory=list)
    noop_one: Rate | None = None
    noop_many: Rate | None = None
    lead_many: Rate | None = None
    emails: int = 0


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
        paced_runs = await _runs(bench.client, wid)
        results.singles.append((noop_paced, noop_paced_runs, lead_paced, paced_runs))
    noop_burst, noop_burst_runs = await bench.noop_single(args.single_events, 0)
    results.noop_one = await bench.noop_many(args.leads, 1)
    results.noop_many = await bench.noop_many(args.leads, args.events_per_lead)
    results.lead_many = await bench.lead_many(args.leads, args.events_per_lead)
    # Last: a lead that falls behind can leave its workflow task stuck in the worker.
    lead_burst, wid = await bench.lead_single(args.single_events, 0)
    burst_runs = await _runs(bench.client, wid)
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


def _report(args: argparse.Namespace, results: Results, max_history: int) -> bool:
    """Print the table and the history requirement; whether the requirement is met."""
    print()
    print(
        f"lead throughput: dev server, 1 Leadflow worker, {args.concurrency} calls in flight, "
        f"max_history_events={max_history}, first_touch_delay=P1D"
    )
    print(f"{'phase':<44} {'events':>6} {'accepted/s':>11} {'applied/s':>10} {'vs no-op':>9}")
    for noop, _, lead, _ in results.singles:
        print(_row(noop, None))
        print(_row(lead, noop))
    assert results.noop_one and results.noop_many and results.lead_many
    print(_row(results.noop_one, None))
    print(_row(results.noop_many, None))
    print(_row(results.lead_many, results.noop_many))
    met = True
    for _, noop_runs, lead, lead_runs in results.singles:
        print()
        print(f"history of the single workflow, {lead.name.rsplit(', ', 1)[1]} (events per run)")
        print(_runs_line("no-op", noop_runs, args.single_events))
        print(_runs_line("Leadflow lead", lead_runs, args.single_events))
        worst = max(lead_runs.lengths)
        ok = worst < HISTORY_LIMIT and lead.applied_s is not None
        met = met and ok
        print(
            f"requirement, every run under {HISTORY_LIMIT} events for a lead receiving "
            f"{args.single_events} events: {'met' if ok else 'NOT MET'} (largest run {worst}"
            f"{'' if lead.applied_s is not None else ', lead stalled'})"
        )
    print()
    print(f"emails sent during the bench: {results.emails} (expected 0)")
    return met


async def main(args: argparse.Namespace) -> int:
    configure_logging(logging.WARNING)
    wall = time.perf_counter()
    directory = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    env = await start_dev_server()
    sink = SmtpSink("127.0.0.1", free_port())
    sink.start()
    settings = _settings(directory, sink)
    max_history = load_program(settings.program).long_life.max_history_events
    db = connect_db(settings.resolved_database_url)
    migrate(db)
    noop_queue = f"bench-noop-{uuid.uuid4().hex[:8]}"
    bench = Bench(
        env.client,
        db,
        settings.task_queue,
        noop_queue,
        max_history,
        args.concurrency,
        args.timeout,
        args.stall,
    )
    workers = [
        build_worker(env.client, settings, db, search_attributes=True),
        Worker(env.client, task_queue=noop_queue, workflows=[NoOpWorkflow]),
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
    met = _report(args, results, max_history)
    for note in notes:
        print(f"note: {note}")
    print(f"wall time: {time.perf_counter() - wall:.0f} s")
    print(
        "command: .venv/bin/python -m bench.lead_throughput "
        f"--single-events {args.single_events} --leads {args.leads} "
        f"--events-per-lead {args.events_per_lead} --concurrency {args.concurrency} "
        f"--single-rate {args.single_rate:g}"
    )
    sys.stdout.flush()
    return 0 if met and not notes else 1


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
    sys.exit(asyncio.run(main(parser.parse_args())))
