"""ORM tables. Pydantic response shapes live in `api/schemas.py`; these stay persistence-only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Instance(Base):
    """A service instance: the owner of credentials and custom models."""

    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(256))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; keys are random
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomModel(Base):
    __tablename__ = "custom_models"
    __table_args__ = (UniqueConstraint("owner", "kind", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="language")  # language | acoustic
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(128), default="")
    base_model_name: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(16))
    dialect: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[str | None] = mapped_column(Text, nullable=True)
    customization_weight: Mapped[float | None] = mapped_column(nullable=True)
    # Base-model versions this model has trained artifacts for, oldest first.
    versions: Mapped[list[Any]] = mapped_column(default=list)
    # Bumped on every data change; training records the revision it consumed.
    data_revision: Mapped[int] = mapped_column(Integer, default=0)
    trained_revision: Mapped[int] = mapped_column(Integer, default=-1)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    corpora: Mapped[list[Corpus]] = relationship(cascade="all, delete-orphan", back_populates="model")
    words: Mapped[list[CustomWord]] = relationship(cascade="all, delete-orphan", back_populates="model")
    audio: Mapped[list[AudioResource]] = relationship(cascade="all, delete-orphan", back_populates="model")


class Corpus(Base):
    __tablename__ = "corpora"
    __table_args__ = (UniqueConstraint("model_id", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("custom_models.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="corpus")  # corpus | grammar
    media_type: Mapped[str] = mapped_column(String(64), default="text/plain")
    status: Mapped[str] = mapped_column(String(32), default="being_processed")
    total_words: Mapped[int] = mapped_column(Integer, default=0)
    out_of_vocabulary_words: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # word -> count of OOV words this resource contributed (previous-generation models)
    oov: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    model: Mapped[CustomModel] = relationship(back_populates="corpora")


class CustomWord(Base):
    __tablename__ = "custom_words"
    __table_args__ = (UniqueConstraint("model_id", "word"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("custom_models.id", ondelete="CASCADE"), index=True)
    word: Mapped[str] = mapped_column(String(256))
    sounds_like: Mapped[list[Any]] = mapped_column(default=list)
    display_as: Mapped[str] = mapped_column(String(256), default="")
    mapping_only: Mapped[list[Any]] = mapped_column(default=list)
    user: Mapped[bool] = mapped_column(default=False)  # added or modified by the user
    hidden: Mapped[bool] = mapped_column(default=False)  # a corpus word the user deleted
    error: Mapped[list[Any] | None] = mapped_column(nullable=True)

    model: Mapped[CustomModel] = relationship(back_populates="words")


class AudioResource(Base):
    """An audio resource of a custom acoustic model: one audio file or an archive of them.

    Its files live in `artifacts/<model>/audio/<id>/`, named by member index, never by a client's name."""

    __tablename__ = "audio_resources"
    __table_args__ = (UniqueConstraint("model_id", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("custom_models.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="audio")  # audio | archive
    content_type: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(32), default="being_processed")  # being_processed | ok | invalid
    duration: Mapped[float] = mapped_column(default=0.0)  # seconds of audio (all members of an archive)
    # Watson's AudioDetails ({} until processed) and, for archives, one entry per member:
    # {"name", "duration", "details", "status", "transcript": bool}
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    members: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    model: Mapped[CustomModel] = relationship(back_populates="audio")


class Job(Base):
    """A durable background job; the runner resumes or fails these after a restart."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    target_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RecognitionJob(Base):
    """An asynchronous recognition (`/v1/recognitions`); its audio waits in `data_dir/recognitions`."""

    __tablename__ = "recognition_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting|processing|completed|failed
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the recognition parameters as given
    parts: Mapped[list[Any]] = mapped_column(default=list)  # content type of each stored audio part
    callback_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    events: Mapped[list[Any]] = mapped_column(default=list)
    user_token: Mapped[str | None] = mapped_column(String(256), nullable=True)
    results_ttl: Mapped[int] = mapped_column(Integer, default=10080)  # minutes after completion
    results: Mapped[list[Any] | None] = mapped_column(nullable=True)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Callback(Base):
    """A callback URL an instance registered (the challenge succeeded) for job notifications."""

    __tablename__ = "callbacks"
    __table_args__ = (UniqueConstraint("owner", "url"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    user_secret: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Endpoint(Base):
    """A named, stable deployment of a base-model version or a custom model (Azure's endpoints)."""

    __tablename__ = "endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(16))
    model_kind: Mapped[str] = mapped_column(String(8))  # base | custom
    model_id: Mapped[str] = mapped_column(String(160))  # a base-model version, or a custom model's id
    custom_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Dataset(Base):
    """Uploaded training data (Azure's datasets; kind Language: text, one sentence a line)."""

    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="Succeeded")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)  # acceptedLineCount, rejectedLineCount
    custom_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Transcription(Base):
    """A batch transcription (Azure's `/transcriptions`); its result files live in `data_dir/transcriptions`."""

    __tablename__ = "transcriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(16))
    model_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)  # base | custom | None (newest base)
    model_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    # {"inputs": [{"url", "source"}], "container": url | None}: a container is listed once, at creation
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the request's properties
    custom_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="NotStarted")  # NotStarted|Running|Succeeded|Failed
    error: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # {"code", "message"}
    ttl_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)  # after completion; None: kept
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
