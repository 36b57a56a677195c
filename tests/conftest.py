"""The test harness: real Temporal servers, a real SMTP server, SQLite and PostgreSQL.

Fixtures only; what tests share besides fixtures is in `tests/helpers/`."""

from __future__ import annotations

import functools
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow_domain.payload_crypto import DataKeyStore
from models.db import connect_db, migrate
from starter.api import create_app
from starter.auth import KeyRing
from starter.ports import free_port
from starter.settings import Settings
from starter.smtp_sink import SmtpSink
from starter.temporal import with_payload_keys
from tests.helpers.api import OPS_KEY, api_client, ops_keyring
from tests.helpers.databases import postgres_database
from tests.helpers.installation import data_keys, installation
from tests.helpers.journey import Journey, NewJourney
from tests.helpers.programs import ProgramFactory, write_program
from tests.helpers.servers import start_dev_server, start_time_skipping_server
from tests.helpers.worker import running_worker


@pytest.fixture(scope="session", autouse=True)
def _logs_beside_the_cli_output() -> None:
    """Workers run inside the test process: their log lines go to the process's own stderr,
    never into a CLI invocation's captured stdout (`--json` output stays parseable)."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.__stderr__))


@pytest.fixture
def payload_keys(tmp_path: Path, worker_db: Engine) -> DataKeyStore:
    """The payload data keys of the test's installation: in its worker's database, wrapped by
    the master key in `settings`' data dir, so its CLI, API and worker read what the others
    encrypted."""
    return DataKeyStore(worker_db, Settings(**installation(tmp_path)).resolved_master_key())


@pytest.fixture
async def time_skipping_env(payload_keys: DataKeyStore) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (0.1 s to start): leads left running by
    one test must not hold the shared clock still for the next."""
    env = await start_time_skipping_server(payload_keys)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[WorkflowEnvironment]:
    """The shared dev server; tests reach it through `dev_client` (their own data keys)."""
    with data_keys(Settings(**installation(tmp_path_factory.mktemp("dev-server")))) as keys:
        env = await start_dev_server(keys)
        yield env
        await env.shutdown()


@pytest.fixture
def dev_client(dev_env: WorkflowEnvironment, payload_keys: DataKeyStore) -> Client:
    """The shared dev server's connection, encrypting with the test's data keys."""
    return with_payload_keys(dev_env.client, payload_keys)


@pytest.fixture
def env(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    """The test's Temporal environment: a time-skipping server of its own, or the shared dev
    server (through the test's data keys) for a test marked `devserver`."""
    if request.node.get_closest_marker("devserver") is not None:
        return WorkflowEnvironment.from_client(request.getfixturevalue("dev_client"))
    return request.getfixturevalue("time_skipping_env")  # type: ignore[no-any-return]


@pytest.fixture
def task_queue() -> str:
    return f"leadflow-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port(), tmp_path / "mail")
    sink.start()
    yield sink
    sink.stop()


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


@pytest.fixture
def make_program(tmp_path: Path) -> ProgramFactory:
    """Write a copy of the sample program with changes, e.g. a PT2S first touch."""
    return functools.partial(write_program, tmp_path)


@pytest.fixture
def program(request: pytest.FixtureRequest, make_program: ProgramFactory) -> Path:
    """The program in the test's settings: a copy of the sample program with a PT2S first
    touch, or what the test's `program` marker names: a file
    (`@pytest.mark.program(SAMPLE_PROGRAM)`) or `make_program` arguments
    (`@pytest.mark.program(first_touch_delay="P1D")`)."""
    marker = request.node.get_closest_marker("program")
    if marker is not None and marker.args:
        return marker.args[0]  # type: ignore[no-any-return]
    return make_program(**(marker.kwargs if marker is not None else {}))


@pytest.fixture
def settings(tmp_path: Path, task_queue: str, smtp_server: SmtpSink, program: Path) -> Settings:
    return Settings(
        **installation(tmp_path),
        task_queue=task_queue,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        program=program,
    )


@pytest.fixture
def worker_db(request: pytest.FixtureRequest) -> Engine:
    """The database of the test's worker and leads: the test's `db` (SQLite and PostgreSQL) if
    it uses one, else `sqlite_db`."""
    return request.getfixturevalue("db" if "db" in request.fixturenames else "sqlite_db")  # type: ignore[no-any-return]


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, settings: Settings, worker_db: Engine
) -> AsyncIterator[Worker]:
    """The app's worker on the test's task queue, running for the whole test."""
    async with running_worker(env.client, settings, worker_db) as worker:
        yield worker


@pytest.fixture
def new_journey(
    env: WorkflowEnvironment,
    settings: Settings,
    worker_db: Engine,
    smtp_server: SmtpSink,
    worker: Worker,
) -> NewJourney:
    """Journeys of new leads, the worker running: `new_journey(email=..., npi=None)` changes
    the sample clinician's profile."""

    def journey(**profile: Any) -> Journey:
        return Journey(env, settings, worker_db, smtp_server, **profile)

    return journey


@pytest.fixture
def lead(new_journey: NewJourney) -> Journey:
    """The sample clinician's journey, the worker running."""
    return new_journey()


@pytest.fixture
def cli_settings(
    env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The CLI reads its settings from the environment: point it at the test's stack."""
    variables = {
        "LEADFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "LEADFLOW_TASK_QUEUE": settings.task_queue,
        "LEADFLOW_DATABASE_URL": settings.resolved_database_url,
        "LEADFLOW_PROGRAM": str(settings.program),
        "LEADFLOW_DATA_DIR": str(settings.data_dir),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def keyring() -> KeyRing:
    """The API keys the `api` fixture's app accepts."""
    return ops_keyring()


@pytest.fixture
async def api(
    env: WorkflowEnvironment, settings: Settings, db: Engine, keyring: KeyRing
) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API on the test's server and database, called with the operations key."""
    app = create_app(settings, client=env.client, db=db, keyring=keyring)
    async with api_client(app, OPS_KEY) as http:
        yield http
