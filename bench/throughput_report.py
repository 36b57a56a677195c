"""Figures of bench.lead_throughput and how they are reported: rates against the no-op
baseline, and history events per run against the product limit."""

from __future__ import annotations

import argparse
import collections
import sys
import time
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client

from bench.harness import EventRates

HISTORY_LIMIT = 2_000  # the product requirement for every run of a lead


@dataclass
class Rate(EventRates):
    applied: int | None  # events seen applied at the end (None: the query never answered)


@dataclass
class Runs:
    lengths: list[int]  # history events per run, oldest run first
    listed: int  # runs the visibility store lists for the workflow id
    task_failures: collections.Counter[str] = field(default_factory=collections.Counter)
    pending_task_attempt: int = 0  # attempt of the current run's pending workflow task

    @property
    def total(self) -> int:
        return sum(self.lengths)


def rate_row(rate: Rate, baseline: Rate | None) -> str:
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


def runs_line(name: str, runs: Runs, events: int) -> str:
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


def report(args: argparse.Namespace, results: Results, max_history: int) -> bool:
    """Print the table and the history requirement; whether the requirement is met."""
    print()
    print(
        f"lead throughput: dev server, 1 Leadflow worker, {args.concurrency} calls in flight, "
        f"max_history_events={max_history}, first_touch_delay=P1D"
    )
    print(f"{'phase':<44} {'events':>6} {'accepted/s':>11} {'applied/s':>10} {'vs no-op':>9}")
    for noop, _, lead, _ in results.singles:
        print(rate_row(noop, None))
        print(rate_row(lead, noop))
    assert results.noop_one and results.noop_many and results.lead_many
    print(rate_row(results.noop_one, None))
    print(rate_row(results.noop_many, None))
    print(rate_row(results.lead_many, results.noop_many))
    met = True
    for _, noop_runs, lead, lead_runs in results.singles:
        print()
        print(f"history of the single workflow, {lead.name.rsplit(', ', 1)[1]} (events per run)")
        print(runs_line("no-op", noop_runs, args.single_events))
        print(runs_line("Leadflow lead", lead_runs, args.single_events))
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


async def history_runs(client: Client, wid: str) -> Runs:
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


def print_footer(args: argparse.Namespace, notes: list[str], wall: float) -> None:
    """Shutdown notes, wall time, and the command that repeats this run."""
    for note in notes:
        print(f"note: {note}")
    print(f"wall time: {time.perf_counter() - wall:.0f} s")
    print(
        "command: .venv/bin/python -m bench.lead_throughput "
        f"--single-events {args.single_events} --leads {args.leads} "
        f"--events-per-lead {args.events_per_lead} --concurrency {args.concurrency} "
        f"--single-rate {args.single_rate:g}{' --no-codec' if args.no_codec else ''}"
    )
    sys.stdout.flush()
