"""Application settings: the `LEADFLOW_*` environment variables (public contract)."""

from __future__ import annotations

import base64
import secrets
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The sample program ships as package data of `models`, beside the code that validates it.
SAMPLE_PROGRAM = Path(str(files("models").joinpath("programs", "sample.yaml")))


class ApiKey(BaseModel):
    """A bootstrap API key given in `LEADFLOW_API_KEYS`."""

    name: str
    key: SecretStr
    scopes: list[str]


class Settings(BaseSettings):
    """Every knob Leadflow reads; nothing is read or connected at import time."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    temporal_address: str | None = Field(
        default=None, description="host:port of an existing Temporal server; unset = embedded"
    )
    temporal_namespace: str = "default"
    task_queue: str = "leadflow"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset = SQLite file in the data dir"
    )
    smtp_host: str | None = Field(default=None, description="unset = embedded SMTP sink")
    smtp_port: int = 1025
    program: Path = SAMPLE_PROGRAM
    api_keys: list[ApiKey] = Field(default_factory=list)
    data_dir: Path = Path(".leadflow")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dev_server_port: int = 7233
    temporal_ui_origin: str | None = Field(
        default=None, description="a Temporal UI allowed to call /codec (the embedded one is)"
    )
    signing_key: SecretStr | None = Field(
        default=None, description="signs unsubscribe links; unset = a key kept in the data dir"
    )
    public_url: str | None = Field(
        default=None, description="where recipients reach the API (unsubscribe links)"
    )
    crm_webhook_url: str | None = Field(
        default=None, description="an external CRM's webhook; unset = embedded CRM tables only"
    )
    crm_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing each webhook body"
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="base64url of 32 bytes wrapping the payload data keys; unset = in the data dir",
    )
    crm_webhook_timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'leadflow.db').resolve()}"

    @property
    def resolved_temporal_address(self) -> str:
        """Where the Temporal frontend listens (the embedded dev server when unset)."""
        return self.temporal_address or f"127.0.0.1:{self.dev_server_port}"

    @property
    def resolved_smtp_host(self) -> str:
        return self.smtp_host or "127.0.0.1"

    def temporal_ui_origins(self) -> frozenset[str]:
        """Origins of the Temporal UI allowed to call the codec endpoint: the configured one,
        and the embedded dev server's UI."""
        origins = {self.temporal_ui_origin.rstrip("/")} if self.temporal_ui_origin else set()
        if self.temporal_address is None:
            port = self.temporal_ui_port
            origins |= {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}
        return frozenset(origins)

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    def resolved_signing_key(self) -> str:
        """The signing key; without one configured, a random key kept in the data dir (so the
        worker and the API of one installation agree, and links survive restarts)."""
        if self.signing_key is not None:
            return self.signing_key.get_secret_value()
        path = self.data_dir / "signing-key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32) + "\n")
        return path.read_text().strip()

    def resolved_master_key(self) -> bytes:
        """The master key wrapping the payload data keys; without one configured, a random key
        kept in the data dir (every process of one installation must agree on it)."""
        if self.master_key is not None:
            text = self.master_key.get_secret_value()
        else:
            path = self.data_dir / "master-key"
            if not path.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
            text = path.read_text().strip()
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            key = b""
        if len(key) != 32:
            # The message names the setting, never the value.
            raise ValueError("LEADFLOW_MASTER_KEY must be base64url of 32 bytes")
        return key

    @property
    def temporal_ui_url(self) -> str:
        return f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def temporal_ui_port(self) -> int:
        """The embedded dev server's web UI: its port + 1000."""
        return self.dev_server_port + 1000
