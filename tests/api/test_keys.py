"""API keys made with the CLI: stored hashed, accepted with their scopes, revocable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from models.db import connect_db
from models.tables import ApiKeyRecord
from starter.api import create_app
from starter.cli import app
from starter.settings import Settings


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", url)
    return url


async def test_cli_keys_are_hashed_scoped_and_revocable(database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["key", "create", "--name", "web-forms", "--scope", "leads:read"])
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    db = connect_db(database)
    with Session(db) as session:
        [row] = session.exec(select(ApiKeyRecord)).all()
    assert key not in row.key_hash and row.name == "web-forms"

    bad = runner.invoke(app, ["key", "create", "--name", "x", "--scope", "admin"])
    assert bad.exit_code == 2 and "scopes must be some of" in bad.output
    listed = runner.invoke(app, ["key", "list", "--json"])
    assert '"web-forms"' in listed.output and key not in listed.output

    settings = Settings(database_url=database, data_dir=tmp_path)
    api = create_app(settings, db=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://leadflow.test"
    ) as http:
        headers = {"Authorization": f"Bearer {key}"}
        assert (await http.get("/v1/outbox", headers=headers)).status_code == 200
        wrong_scope = await http.post(
            "/v1/events", headers={**headers, "Content-Type": "application/json"}, content=b"{}"
        )
        assert wrong_scope.status_code == 403
        assert runner.invoke(app, ["key", "revoke", "web-forms"]).exit_code == 0
        revoked = await http.get("/v1/outbox", headers=headers)
        assert revoked.status_code == 401
