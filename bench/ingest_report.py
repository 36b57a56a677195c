"""Lines of the bench.ingest report: rates against the baseline, latency percentiles, intake
step times and the profile's top functions."""

from __future__ import annotations

import json
import pstats
import statistics
from pathlib import Path
from typing import TypeVar

from bench.ingest_load import (
    Ingest,
    SpeedToLead,
)

T = TypeVar("T")
API_KEY = "bench-ingest-key"


# -- report ----------------------------------------------------------------------------------


def ingest_line(run: Ingest, base: Ingest | None) -> str:
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


def latency_line(run: SpeedToLead) -> str:
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


def step_lines(path: Path) -> list[str]:
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


def profile_lines(path: Path, top: int = 25) -> list[str]:
    import io

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue().splitlines()
