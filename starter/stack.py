"""`leadflow up`: the embedded stack (dev server, SMTP sink, worker, API) in one process tree."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog
import uvicorn
from sqlalchemy.engine import Engine
from temporalio.client import Client

from models.db import connect_db
from models.program import load_program
from starter.api import create_app, make_keyring
from starter.devserver import DevServer
from starter.ports import ensure_port_free
from starter.settings import Settings
from starter.smtp_sink import SmtpSink
from starter.temporal import connect, search_attributes_registered
from worker import build_worker, prepare_database

log = structlog.get_logger(__name__)

DEV_KEY_NAME = "dev"


class _EmbeddedApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: `up` owns the signals and the shutdown order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def dev_api_key(data_dir: Path) -> str:
    """The development API key, kept in the data dir so it survives restarts."""
    path = data_dir / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    key = f"lf_dev_{secrets.token_urlsafe(24)}"
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def check_ports(settings: Settings) -> None:
    """Fail fast, with one line, when a port `up` must listen on is taken."""
    ensure_port_free(settings.api_host, settings.api_port, "API", "LEADFLOW_API_PORT")
    if settings.temporal_address is None:
        port = settings.dev_server_port
        ensure_port_free("127.0.0.1", port, "Temporal dev server", "LEADFLOW_DEV_SERVER_PORT")
        ensure_port_free(
            "127.0.0.1", port + 1000, "Temporal UI", "LEADFLOW_DEV_SERVER_PORT (UI is port+1000)"
        )
    if settings.smtp_host is None:
        ensure_port_free("127.0.0.1", settings.smtp_port, "SMTP", "LEADFLOW_SMTP_PORT")


async def run_stack(settings: Settings, announce: Callable[[str], None]) -> None:
    """Start everything not configured elsewhere, announce it, and run until SIGINT/SIGTERM."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_program(settings.program)
    check_ports(settings)
    db = connect_db(settings.resolved_database_url)
    await asyncio.to_thread(prepare_database, db, settings)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with contextlib.AsyncExitStack() as stack:
        client = await _temporal(settings, stack)
        if settings.smtp_host is None:
            sink = SmtpSink("127.0.0.1", settings.smtp_port, settings.data_dir / "mail")
            sink.start()
            stack.callback(sink.stop)
        await _serve(settings, client, db, stack, announce)
        await stop.wait()
        log.info("shutting down")
    db.dispose()


async def _temporal(settings: Settings, stack: contextlib.AsyncExitStack) -> Client:
    if settings.temporal_address is not None:
        return await connect(settings)
    server = DevServer(settings)
    stack.callback(server.stop)
    return await server.start()


async def _serve(
    settings: Settings,
    client: Client,
    db: Engine,
    stack: contextlib.AsyncExitStack,
    announce: Callable[[str], None],
) -> None:
    """Start the worker and the API (stopped in reverse order by the exit stack)."""
    await _start_worker(settings, client, db, stack)
    key = dev_api_key(settings.data_dir)
    await _start_api(settings, client, db, key, stack)
    _announce(settings, key, announce)


async def _start_worker(
    settings: Settings, client: Client, db: Engine, stack: contextlib.AsyncExitStack
) -> None:
    worker = build_worker(
        client, settings, db, search_attributes=await search_attributes_registered(client)
    )
    worker_task = asyncio.create_task(worker.run())
    stack.push_async_callback(_stop_worker, worker, worker_task)


async def _start_api(
    settings: Settings, client: Client, db: Engine, key: str, stack: contextlib.AsyncExitStack
) -> None:
    """Serve the API with the dev key and return once it listens."""
    app = create_app(
        settings, client=client, db=db, keyring=make_keyring(settings, {DEV_KEY_NAME: key})
    )
    server = _EmbeddedApiServer(
        uvicorn.Config(
            app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="on"
        )
    )
    api_task = asyncio.create_task(server.serve())
    stack.push_async_callback(_stop_api, server, api_task)
    await _until_started(server, api_task)


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()  # raises what stopped the API, if anything did
            raise RuntimeError("the API stopped while starting")
        await asyncio.sleep(0.05)


def _announce(settings: Settings, key: str, announce: Callable[[str], None]) -> None:
    """Tell the user where everything is."""
    api = f"http://{settings.api_host}:{settings.api_port}"
    announce(f"Leadflow is up: API {api}")
    announce(f"Dev API key: {key}")
    announce(f"OpenAPI docs: {api}/docs")
    _announce_temporal(settings, announce)
    if settings.smtp_host is None:
        announce(
            f"SMTP sink: 127.0.0.1:{settings.smtp_port} (messages in {settings.data_dir / 'mail'})"
        )
    announce(f"Database: {_safe_url(settings.resolved_database_url)}")
    announce("Press Ctrl-C to stop.")


def _announce_temporal(settings: Settings, announce: Callable[[str], None]) -> None:
    if settings.temporal_address is not None:
        announce(f"Temporal server: {settings.temporal_address}")
        return
    announce(f"Temporal UI: {settings.temporal_ui_url}")
    announce(
        f"Temporal server: {settings.resolved_temporal_address} (SQLite: "
        f"{settings.data_dir / 'temporal.db'})"
    )


async def _stop_api(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task


async def _stop_worker(worker: object, task: asyncio.Task[None]) -> None:
    await worker.shutdown()  # type: ignore[attr-defined]
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
