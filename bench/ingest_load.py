"""Load for bench.ingest: events over HTTP, the bare signal-with-start baseline, speed to lead
and background load."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from bench.echo import EchoInput, EchoWorkflow
from bench.harness import EventRates, drive
from bench.ingest_payloads import MIX, People, payload
from models.events import LeadEvent, LeadEventIn
from models.lead_state import RECORD_EVENT, lead_workflow_id
from workflows.lead import LeadWorkflow

T = TypeVar("T")


QUERY_TIMEOUT = timedelta(seconds=10)
ROUND_PAUSE = 0.05  # between rounds of "is every lead applied yet?"
MEETING_QUEUE = "sales-us-midwest"
# -- sending ---------------------------------------------------------------------------------


@dataclass
class Ingest(EventRates):
    applied: int
    errors: Counter[str] = field(default_factory=Counter)
    payload_bytes: float = 0.0
    history_per_event: float = 0.0  # history events per event, sampled workflows, at the end


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
    start = time.perf_counter()
    lead_of, errors = await _post_all(api, bodies, lanes)
    accepted = time.perf_counter()
    expected = _events_per_lead(plan, lead_of)
    applied = await wait_applied(expected, _lead_events_total(client), lanes, start + timeout)
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


async def _post_all(
    api: Api, bodies: list[tuple[bytes, list[str]]], lanes: int
) -> tuple[dict[str, str], Counter[str]]:
    """Post every body; the lead id of each accepted email, and the errors counted per event."""
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
        _read_answer(response.json(), emails, lead_of, errors)

    await drive(bodies, send, lanes)
    return lead_of, errors


def _read_answer(
    answer: dict[str, Any], emails: list[str], lead_of: dict[str, str], errors: Counter[str]
) -> None:
    # One event is answered alone, a batch with one result per event.
    for email, result in zip(emails, answer.get("results", [answer]), strict=True):
        if result.get("status") == "accepted":
            lead_of[email] = result["lead_id"]
        else:
            errors[f"status {result.get('status')}"] += 1


def _events_per_lead(plan: list[dict[str, Any]], lead_of: dict[str, str]) -> Counter[str]:
    """How many events each accepted lead should see applied."""
    expected: Counter[str] = Counter()
    for p in plan:
        if p["lead"]["email"] in lead_of:
            expected[lead_of[p["lead"]["email"]]] += 1
    return expected


def _lead_events_total(client: Client) -> Callable[[str], Awaitable[int | None]]:
    async def count(lead_id: str) -> int | None:
        handle = client.get_workflow_handle(lead_workflow_id(lead_id))
        state = await handle.query(LeadWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        return state.events_total  # type: ignore[no-any-return]

    return count


async def baseline_ingest(
    client: Client, echo_queue: str, plan: list[dict[str, Any]], lanes: int, timeout: float
) -> Ingest:
    sends = _echo_sends(plan)
    start = time.perf_counter()
    errors = await _signal_with_start_all(client, echo_queue, sends, lanes)
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


def _echo_sends(plan: list[dict[str, Any]]) -> list[tuple[str, LeadEvent]]:
    """Each planned event with the echo workflow it goes to (one per lead, fresh per run)."""
    tag = uuid.uuid4().hex[:6]
    return [
        (f"echo-{tag}-{p['lead']['email']}", LeadEvent.from_intake(LeadEventIn.model_validate(p)))
        for p in plan
    ]


async def _signal_with_start_all(
    client: Client, echo_queue: str, sends: list[tuple[str, LeadEvent]], lanes: int
) -> Counter[str]:
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

    await drive(sends, send, lanes)
    return errors


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
