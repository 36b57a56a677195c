"""The outbound CRM webhook against a real local HTTP server: signed JSON, an idempotency key,
retried with backoff, and one delivery per task even when the first attempt times out."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from starter.settings import Settings
from tests.helpers.journey import Journey, NewJourney
from tests.helpers.polling import eventually

SECRET = "whsec-test-7f3a"


class CrmServer(ThreadingHTTPServer):
    """A CRM's webhook receiver: records each idempotency key once; the first request it
    ever gets is answered too late for the sender's timeout."""

    def __init__(self, slow_first: float) -> None:
        super().__init__(("127.0.0.1", 0), CrmHandler)
        self.slow_first = slow_first
        self.attempts: list[str] = []
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/leadflow"


class CrmHandler(BaseHTTPRequestHandler):
    server: CrmServer

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        with self.server.lock:
            first = not self.server.attempts
            self.server.attempts.append(key)
            if not hmac.compare_digest(expected, self.headers.get("X-Leadflow-Signature", "")):
                self.server.bad_signatures += 1
            self.server.deliveries.setdefault(key, json.loads(body))  # dedupe by key
        if first:
            time.sleep(self.server.slow_first)  # processed, but the answer comes too late
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def crm_server() -> Iterator[CrmServer]:
    server = CrmServer(slow_first=2.0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings, crm_server: CrmServer) -> Settings:
    """The worker delivers CRM tasks to the test's receiver."""
    settings.crm_webhook_url = crm_server.url
    settings.crm_webhook_secret = SecretStr(SECRET)
    settings.crm_webhook_timeout = 0.5
    return settings


async def test_each_task_is_delivered_once_even_when_the_first_attempt_times_out(
    lead: Journey, new_journey: NewJourney, crm_server: CrmServer
) -> None:
    await lead.event("meeting_requested", product="Corvanta")
    other = new_journey(email="j.park@uic.example")
    await other.event("trial_question", text="Who can enrol in CORVA-HF?")
    await eventually(lambda: len(crm_server.deliveries) == 2 and len(crm_server.attempts) >= 3)

    first_key = crm_server.attempts[0]
    assert crm_server.attempts.count(first_key) >= 2  # the timed-out attempt was retried
    assert crm_server.bad_signatures == 0
    tasks = {d["task"]["queue"]: d for d in crm_server.deliveries.values()}
    assert set(tasks) == {"sales-us-midwest", "clinical-trial-intake"}
    sales = tasks["sales-us-midwest"]
    assert sales["event"] == "task.created"
    assert sales["task"]["context"]["lead"]["email"] == lead.profile["email"]
    assert set(crm_server.deliveries) == {d["task"]["task_id"] for d in tasks.values()}
