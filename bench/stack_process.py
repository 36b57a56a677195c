"""The stack under test in a process of its own (bench/ingest_stack.py), its dev server, and a
fresh PostgreSQL database for it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from temporalio.client import Client

from starter.devserver import DevServer
from starter.ports import free_port
from starter.settings import Settings

T = TypeVar("T")


REPO = Path(__file__).resolve().parent.parent


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
        # The stack's database holds the payload data keys this client must share with it.
        database_url=env.get("LEADFLOW_DATABASE_URL"),
        dev_server_port=int(env["LEADFLOW_DEV_SERVER_PORT"]),
    )
    server = (InMemoryDevServer if in_memory else DevServer)(settings)
    return server, await server.start()


def dev_server_port() -> int:
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
