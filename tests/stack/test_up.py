"""`leadflow up` as users run it: a real process tree, stopped and started again."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from starter.ports import free_port
from tests.helpers.factories import event_payload
from tests.helpers.programs import ProgramFactory

pytestmark = pytest.mark.slow
READY = "Leadflow is up: API "
START_DEADLINE = 120.0


class UpProcess:
    """A running `leadflow up`, with its output read line by line; its log lines (stderr) go
    to a file, so a chatty start can never fill a pipe nobody reads."""

    def __init__(self, env: dict[str, str]) -> None:
        leadflow = Path(sys.executable).parent / "leadflow"
        self.log = Path(env["LEADFLOW_DATA_DIR"]).parent / f"up-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(leadflow), "up"], env=env, stdout=subprocess.PIPE, stderr=log, text=True
            )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_ready(self) -> list[str]:
        """The lines printed up to and including the ready block."""
        first = self._next_line(START_DEADLINE)
        assert first.startswith(READY), f"first line was {first!r}"
        lines = [first]
        while not lines[-1].startswith("Press Ctrl-C"):
            lines.append(self._next_line(10))
        return lines

    def _next_line(self, seconds: float) -> str:
        """The next line printed; a failure names what the process logged if none came."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                return self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
        code = self.process.poll()
        tail = self.log.read_text()[-3000:]
        pytest.fail(f"leadflow up printed nothing more (exit code {code}); its log:\n{tail}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def _dev_server_port() -> int:
    while True:
        port = free_port()
        if port + 1000 < 65535 and _is_free(port + 1000):
            return port


def _is_free(port: int) -> bool:
    try:
        from starter.ports import ensure_port_free

        ensure_port_free("127.0.0.1", port, "probe", "probe")
    except RuntimeError:
        return False
    return True


@pytest.fixture
def up_env(tmp_path: Path, make_program: ProgramFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(
        LEADFLOW_DATA_DIR=str(tmp_path / "data"),
        LEADFLOW_API_PORT=str(free_port()),
        LEADFLOW_DEV_SERVER_PORT=str(_dev_server_port()),
        LEADFLOW_SMTP_PORT=str(free_port()),
        LEADFLOW_PROGRAM=str(make_program(first_touch_delay="PT10S")),
    )
    return env


@pytest.fixture
def started() -> Iterator[list[UpProcess]]:
    processes: list[UpProcess] = []
    yield processes
    for up in processes:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()


def _mail(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["LEADFLOW_DATA_DIR"]) / "mail").glob("*.eml"))


def test_up_survives_a_restart_with_a_pending_touch(
    up_env: dict[str, str], started: list[UpProcess]
) -> None:
    first = UpProcess(up_env)
    started.append(first)
    lines = first.wait_ready()
    api = lines[0].removeprefix(READY)
    assert api == f"http://127.0.0.1:{up_env['LEADFLOW_API_PORT']}"
    key = next(line.split(": ", 1)[1] for line in lines if line.startswith("Dev API key"))
    assert any(line.startswith("Temporal UI: http://127.0.0.1:") for line in lines)
    headers = {"Authorization": f"Bearer {key}"}

    response = httpx.post(f"{api}/v1/events", json=event_payload(), headers=headers)
    assert response.status_code == 202, response.text
    lead_id = response.json()["lead_id"]
    assert first.stop() == 0  # clean shutdown, before the 10 s first touch is due
    assert _mail(up_env) == []

    second = UpProcess(up_env)
    started.append(second)
    second.wait_ready()
    deadline = time.monotonic() + 60
    while not _mail(up_env):
        assert time.monotonic() < deadline, "the pending touch never fired after the restart"
        time.sleep(0.2)
    assert b"CORVA-HF" in _mail(up_env)[0].read_bytes()
    outbox = httpx.get(f"{api}/v1/outbox", params={"lead_id": lead_id}, headers=headers).json()
    assert [(m["asset_id"], m["status"]) for m in outbox] == [("CVT-EVD-210", "sent")]

    clash = subprocess.run(
        [str(Path(sys.executable).parent / "leadflow"), "up"],
        env=up_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clash.returncode == 1
    assert "already in use" in clash.stderr and "Traceback" not in clash.stderr
    assert len(clash.stderr.strip().splitlines()) == 1
    assert second.stop() == 0


@pytest.mark.devserver
def test_up_uses_an_existing_temporal_server(
    up_env: dict[str, str], started: list[UpProcess], dev_env: WorkflowEnvironment
) -> None:
    up_env["LEADFLOW_TEMPORAL_ADDRESS"] = dev_env.client.service_client.config.target_host
    up = UpProcess(up_env)
    started.append(up)
    lines = up.wait_ready()
    assert not any(line.startswith("Temporal UI") for line in lines)
    assert not (Path(up_env["LEADFLOW_DATA_DIR"]) / "temporal.db").exists()
    assert up.stop() == 0
