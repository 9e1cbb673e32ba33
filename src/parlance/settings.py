"""All configuration in one pydantic-settings object, passed explicitly (no module global)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLANCE_", env_ignore_empty=True, extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where the database and model artifacts live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite in data_dir.")
    host: str = "127.0.0.1"
    port: int = 1080
    public_url: str | None = Field(None, description="Base URL used in `url` fields; default from request.")
    auth: bool = Field(True, description="Require API keys. `serve --no-auth` turns this off for development.")
    max_body_bytes: int = Field(100 * 1024 * 1024, description="Largest accepted request body (Watson: 100 MB).")
    min_body_bytes: int = Field(100, description="Smallest accepted audio body (Watson: 100 bytes).")
    engine_workers: int = Field(2, ge=1, description="Workers running engine calls; one decode each.")
    engine_mode: Literal["threads", "processes"] = Field(
        "threads",
        description="Recognition on engine threads, or in `engine_workers` processes (each loads its models once) "
        "so that PocketSphinx, which holds the GIL while decoding, uses every core.",
    )
    engine_queue: int = Field(8, description="Requests allowed to wait for a worker before 503.")
    decode_batch_size: int = Field(
        4,
        ge=1,
        le=64,
        description="Pieces of one audio (split at pauses) decoded at once on the engine's parallel decoders "
        "(Whisper's CTranslate2 replicas), results kept in order; also the most pieces a request holds. "
        "1 decodes them one after another. Engines that cannot decode in parallel (PocketSphinx) always do.",
    )
    job_workers: int = Field(
        1, ge=1, description="Background job threads (training, corpus analysis, upgrades), per `parlance worker`."
    )
    job_broker_url: str | None = Field(
        None,
        description="Celery broker (redis://... or amqp://...): background jobs run in `parlance worker` processes. "
        "Unset: in-process job threads (the embedded default).",
    )
    job_lease_seconds: float = Field(
        60.0, gt=0, description="A Celery worker silent this long has lost its job, which is queued again."
    )
    ws_max_connections: int = Field(
        64, ge=1, description="Open WebSocket recognition connections; more are refused with close code 1013."
    )
    ws_max_buffered_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1,
        description="Audio held by all WebSocket connections together (each may hold max_body_bytes); "
        "a connection whose audio would pass it is closed with 1013.",
    )
    ws_idle_timeout_seconds: float = Field(
        30.0, gt=0, description="A WebSocket connection that sends no frame for this long is closed."
    )
    token_ttl_seconds: int = 3600
    lifecycle_policy: Literal["quarterly", "periods", "never"] = Field(
        "quarterly",
        description="When models expire: `quarterly` is Azure's rule (periods counted from the end of the quarter "
        "of creation), `periods` counts from creation itself, `never` gives no dates.",
    )
    adaptation_months: int = Field(12, ge=1, le=1200, description="How long a base-model version can be trained on.")
    transcription_months: int = Field(
        24, ge=1, le=1200, description="How long a base-model version or a custom model can transcribe."
    )
    content_root: Path | None = Field(
        None, description="Folder whose files `file://` URLs in datasets and batch transcriptions may name."
    )
    expiry_warning_days: int = Field(30, ge=0, le=3650, description="Results warn this long before a model expires.")
    callback_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Callback hosts (names) or networks (CIDR, or single addresses) allowed although they are not "
        "public: loopback, private, link-local... are refused by default. JSON list in the environment.",
    )
    acoustic_min_minutes: float = Field(
        10.0,
        ge=0,
        description="Least speech a custom acoustic model trains on (Watson: 10 minutes); lower it for "
        "small deployments and tests.",
    )
    callback_registrations_per_hour: int = Field(20, description="Callback registrations per instance per hour.")

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, v: str | None) -> str | None:
        if v and v.startswith("postgres://"):
            return "postgresql+psycopg://" + v[len("postgres://") :]
        return v

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'parlance.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def models_dir(self) -> Path:
        """Installed base-model versions beyond the built-in ones."""
        return self.data_dir / "models"
