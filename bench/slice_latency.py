"""Event accepted -> email received, through the real API, dev server, worker and SMTP server.

Run: .venv/bin/python -m bench.slice_latency [--events 20]

Baseline, measured in the same run: one email handed straight to the same SMTP server with
smtplib. The slice's figure is reported absolute and as a ratio to that baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import smtplib
import statistics
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import httpx
import yaml
from temporalio.testing import WorkflowEnvironment

from bench.harness import start_dev_server
from models.db import connect_db
from starter.api import create_app
from starter.auth import KeyRing
from starter.logging import configure_logging
from starter.ports import free_port
from starter.settings import SAMPLE_PROGRAM, Settings
from starter.smtp_sink import SmtpSink
from tests.helpers.factories import event_payload
from worker import build_worker, prepare_database


def _program(directory: Path, delay: str) -> Path:
    raw = yaml.safe_load(SAMPLE_PROGRAM.read_text())
    raw["cadence"]["first_touch_delay"] = delay
    path = directory / f"program-{delay}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def _wait_for(sink: SmtpSink, count: int, deadline: float = 60.0) -> float:
    end = time.perf_counter() + deadline
    while len(sink.messages) < count:
        if time.perf_counter() > end:
            raise SystemExit(f"no email within {deadline:.0f} s: the slice is broken")
        await asyncio.sleep(0.002)
    return time.perf_counter()


def _baseline(sink: SmtpSink, samples: int) -> list[float]:
    timings = []
    for n in range(samples):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", str(n)
        message.set_content("baseline")
        start = time.perf_counter()
        with smtplib.SMTP(sink.host, sink.port) as smtp:
            smtp.send_message(message)
        timings.append(time.perf_counter() - start)
    return timings


async def _slice(
    env: WorkflowEnvironment, sink: SmtpSink, directory: Path, delay: str, events: int
) -> list[float]:
    settings = Settings(
        task_queue=f"bench-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{directory / f'bench-{delay}.db'}",
        smtp_host=sink.host,
        smtp_port=sink.port,
        program=_program(directory, delay),
        data_dir=directory,
    )
    db = connect_db(settings.resolved_database_url)
    prepare_database(db, settings)  # schema and the content library
    keys = KeyRing()
    keys.add("bench", "bench-key", ("events:write", "leads:read"))
    app = create_app(settings, client=env.client, db=db, keyring=keys)
    timings = []
    async with (
        build_worker(env.client, settings, db),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": "Bearer bench-key"},
        ) as api,
    ):
        for n in range(events):
            seen = len(sink.messages)
            payload = event_payload(email=f"hcp{n}-{uuid.uuid4().hex[:6]}@clinic.example")
            response = await api.post("/v1/events", json=payload)
            accepted = time.perf_counter()
            response.raise_for_status()
            timings.append(await _wait_for(sink, seen + 1) - accepted)
    db.dispose()
    return timings


def _line(name: str, timings: list[float], baseline: float) -> str:
    median = statistics.median(timings)
    p95 = sorted(timings)[max(0, int(len(timings) * 0.95) - 1)]
    return (
        f"{name:<32} n={len(timings):<3} median={median * 1000:8.1f} ms  "
        f"p95={p95 * 1000:8.1f} ms  median/baseline={median / baseline:7.1f}x"
    )


async def main(events: int) -> None:
    configure_logging(logging.WARNING)
    directory = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    env = await start_dev_server(directory)
    sink = SmtpSink("127.0.0.1", free_port())
    sink.start()
    try:
        baseline = statistics.median(_baseline(sink, events))
        print(f"{'baseline: direct SMTP send':<32} median={baseline * 1000:8.1f} ms")
        for delay in ("PT0S", "PT2S"):
            timings = await _slice(env, sink, directory, delay, events)
            print(_line(f"slice, first_touch_delay={delay}", timings, baseline))
    finally:
        sink.stop()
        await env.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20)
    asyncio.run(main(parser.parse_args().events))
