"""CPU seconds per process and per thread group, read from /proc, for each phase of a bench."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


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


def children(name: str) -> list[int]:
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
