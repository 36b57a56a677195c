"""`leadflow up`, `worker` and `api`: run Leadflow's processes."""

from __future__ import annotations

import asyncio

import typer

from starter.cli.connections import load_settings

app = typer.Typer()


@app.command()
def up() -> None:
    """Run the embedded stack: Temporal dev server, SMTP sink, worker and API."""
    from starter.logging import configure_logging
    from starter.stack import run_stack

    configure_logging()
    asyncio.run(run_stack(load_settings(), announce=lambda line: print(line, flush=True)))


@app.command()
def worker() -> None:
    """Run the worker against the configured Temporal server."""
    import worker as worker_module

    asyncio.run(worker_module.main())


@app.command()
def api() -> None:
    """Run the HTTP API against the configured Temporal server and database."""
    import uvicorn

    from starter.api import create_app
    from starter.logging import configure_logging

    configure_logging()
    settings = load_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)
