"""No personal data in the logs of `leadflow up` and `leadflow api`, as users run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from starter.logging import REDACTED, mask_personal_fields
from starter.ports import free_port
from tests.helpers.factories import event_payload
from tests.helpers.programs import ProgramFactory

pytestmark = [pytest.mark.slow, pytest.mark.devserver]
START_DEADLINE = 90.0
KEY = "lf_test_logs_0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}
PERSON = {
    "email": "zebulon.quackenbush@northside-cardio.example",
    "npi": "1993999998",
    "first_name": "Zebulon",
    "last_name": "Quackenbush",
    "role": "physician",
    "specialty": "cardiology",
    "country": "US",
    "postal_code": "60611",
    "time_zone": "America/Chicago",
}
FREE_TEXT = "Please call my office manager Janelle Quimby on 555-0100"
QUERY_EMAIL = "dr.secret@clinic.example"
TOKEN = "SECRET-UNSUBSCRIBE-TOKEN-42"
PERSONAL = [
    *(PERSON[k] for k in ("email", "npi", "first_name", "last_name")),
    "Janelle",
    "555-0100",
]


class Leadflow:
    """A `leadflow` command running as a process, its output kept in files (no pipe to fill)."""

    def __init__(self, command: str, env: dict[str, str], directory: Path) -> None:
        self.out = directory / f"{command}.out"
        self.err = directory / f"{command}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "leadflow"), command],
                env=env,
                stdout=out,
                stderr=err,
            )
        self.api = f"http://127.0.0.1:{env['LEADFLOW_API_PORT']}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            assert self.process.poll() is None, self.err.read_text()
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not answer in time"
            time.sleep(0.2)

    def stop(self) -> str:
        """Stop it; everything it printed."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return self.out.read_text() + self.err.read_text()


@pytest.fixture
def run_env(
    tmp_path: Path, make_program: ProgramFactory, dev_env: WorkflowEnvironment
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(
        LEADFLOW_TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        LEADFLOW_TASK_QUEUE=f"logs-{free_port()}",
        LEADFLOW_DATA_DIR=str(tmp_path / "data"),
        LEADFLOW_API_PORT=str(free_port()),
        LEADFLOW_SMTP_PORT=str(free_port()),
        LEADFLOW_PROGRAM=str(make_program(first_touch_delay="PT1S")),
        LEADFLOW_API_KEYS=json.dumps(
            [{"name": "ops", "key": KEY, "scopes": ["events:write", "leads:read"]}]
        ),
    )
    return env


@pytest.fixture
def processes() -> Iterator[list[Leadflow]]:
    running: list[Leadflow] = []
    yield running
    for leadflow in running:
        if leadflow.process.poll() is None:
            leadflow.process.kill()
            leadflow.process.wait()


def _send(api: str, type: str, **properties: object) -> str:
    payload = event_payload(type=type, properties=properties) | {"lead": PERSON}
    answer = httpx.post(f"{api}/v1/events", json=payload, headers=HEADERS)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["lead_id"])


def _until(check: Callable[[], object], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_journey_leaves_no_personal_data_in_the_logs(
    run_env: dict[str, str], processes: list[Leadflow], tmp_path: Path
) -> None:
    up = Leadflow("up", run_env, tmp_path)
    processes.append(up)
    up.wait_ready()
    _send(up.api, "page_viewed", url=f"https://hcp.corvanta.example/moa?email={QUERY_EMAIL}")
    _send(up.api, "form_submitted", form="contact", comment=FREE_TEXT)
    lead_id = _send(up.api, "content_downloaded", asset_id="CVT-EVD-200", topics=["evidence"])
    mail = Path(run_env["LEADFLOW_DATA_DIR"]) / "mail"
    _until(lambda: list(mail.glob("*.eml")), "no email was sent")
    _send(up.api, "meeting_requested", product="Corvanta", comment=FREE_TEXT)
    tasks = f"{up.api}/v1/crm/tasks"
    _until(lambda: httpx.get(tasks, params={"lead_id": lead_id}, headers=HEADERS).json(), "task")

    logs = up.stop()
    assert "touch sent" in logs and "crm task created" in logs  # the journey was logged
    for personal in PERSONAL:
        assert personal not in logs


def test_the_access_log_masks_query_strings(
    run_env: dict[str, str], processes: list[Leadflow], tmp_path: Path
) -> None:
    api = Leadflow("api", run_env, tmp_path)
    processes.append(api)
    api.wait_ready()
    found = httpx.get(f"{api.api}/v1/leads", params={"email": QUERY_EMAIL}, headers=HEADERS)
    assert found.status_code == 200
    assert httpx.get(f"{api.api}/v1/unsubscribe", params={"token": TOKEN}).status_code == 400

    logs = api.stop()
    assert "GET /v1/leads?email=[redacted] HTTP/1.1" in logs  # the access log is on
    assert QUERY_EMAIL not in logs and TOKEN not in logs


def test_fields_named_like_personal_data_are_masked_in_any_log_call() -> None:
    event = {"event": "lead found", "lead_id": "ld_1", "email": PERSON["email"], "comment": "hi"}
    masked = mask_personal_fields(None, "info", event)
    assert masked == {
        "event": "lead found",
        "lead_id": "ld_1",
        "email": REDACTED,
        "comment": REDACTED,
    }
