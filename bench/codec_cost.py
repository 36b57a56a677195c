"""CPU per payload of the payload encryption codec (AES-256-GCM, per-lead data key).

Run: .venv/bin/python -m bench.codec_cost [--payloads 5000]

Baseline, measured in the same run: the same lead events through the pydantic data converter
alone (what every payload costs anyway); the codec's figure is reported as a ratio to it.
Keys are warm (cached), as for a lead that is already running.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, WorkflowSerializationContext

from models.events import LeadEvent, LeadFacts
from models.lead_state import lead_workflow_id
from starter.settings import Settings
from starter.temporal import data_converter, payload_keys


def _events(count: int) -> list[LeadEvent]:
    facts = LeadFacts(role="physician", country="US", time_zone="America/Chicago")
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    return [
        LeadEvent(
            event_id=f"evt-{n:08d}",
            type="content_downloaded",
            occurred_at=start,
            lead=facts,
            properties={"asset_id": "CVT-EVD-200", "topics": ["evidence", "dosing"]},
        )
        for n in range(count)
    ]


async def _per_payload(converter: DataConverter, events: list[LeadEvent]) -> float:
    """Seconds per payload for encode then decode, one payload per call like a signal."""
    began = time.perf_counter()
    for event in events:
        payloads = await converter.encode([event])
        await converter.decode(payloads, [LeadEvent])
    return (time.perf_counter() - began) / len(events)


async def main(count: int) -> None:
    events = _events(count)
    context = WorkflowSerializationContext(
        namespace="default", workflow_id=lead_workflow_id("ld_bench")
    )
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as directory:
        settings = Settings(
            database_url=f"sqlite:///{Path(directory) / 'keys.db'}", data_dir=Path(directory)
        )
        keys = payload_keys(settings)
        encrypting = data_converter(keys).with_context(context)
        plain = pydantic_data_converter.with_context(context)
        await _per_payload(encrypting, events[:50])  # make and cache the lead's key; warm up
        await _per_payload(plain, events[:50])
        baseline = min([await _per_payload(plain, events) for _ in range(3)])
        codec = min([await _per_payload(encrypting, events) for _ in range(3)])
    size = len((await pydantic_data_converter.encode([events[0]]))[0].data)
    print(f"payloads: {count} lead events of ~{size} bytes, encode+decode each, best of 3")
    print(f"pydantic converter alone:     {baseline * 1e6:8.1f} us/payload")
    print(f"with the encryption codec:    {codec * 1e6:8.1f} us/payload")
    print(f"codec's own cost:             {(codec - baseline) * 1e6:8.1f} us/payload")
    print(f"ratio codec/no codec:         {codec / baseline:8.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payloads", type=int, default=5000)
    asyncio.run(main(parser.parse_args().payloads))
