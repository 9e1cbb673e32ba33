"""Audio resources of custom acoustic models: add (one audio file or an archive), list, get, delete.

An add is checked in the request (name, type, archive safety: a refusal leaves nothing behind), stored
as an upload, and decoded by a background job (`being_processed` -> `ok` | `invalid`) into
`artifacts/<cid>/audio/<resource id>/m<index>.wav` (16 kHz mono 16-bit, what adaptation reads) plus
`m<index>.txt` when the archive carried a transcript with the same stem. Members without a transcript are
also decoded there by the base model (`acoustic_first_pass`), so that training only has to adapt.
"""

from __future__ import annotations

import logging
import shutil
import wave
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from sqlalchemy import case, select, update

from parlance.audio.decode import ACCEPTED_TYPES, decode_audio, parse_content_type
from parlance.customization.text import normalize_sentence
from parlance.errors import BadRequest, Conflict, NotFound, ParlanceError
from parlance.jobs.runner import JobKind, JobRunner, Progress
from parlance.services import acoustic_first_pass
from parlance.services.acoustic_archives import ARCHIVE_TYPES, AUDIO_EXTENSIONS, read_archive
from parlance.services.custom_models import CustomModels, stored_error
from parlance.services.engine_pool import EnginePool
from parlance.store.orm import AudioResource, CustomModel, Job, utcnow

MAX_NAME = 128
RAW_TYPES = ("audio/alaw", "audio/basic", "audio/l16", "audio/mulaw")
BUSY = ("training", "upgrading")
log = logging.getLogger("parlance.acoustic")


def write_pcm16(path: Path, samples: np.ndarray) -> None:
    from parlance.engines.pocketsphinx.model import to_pcm16  # the decoder's own conversion (dither)

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(to_pcm16(samples))


def probe(data: bytes, content_type: str) -> dict[str, Any]:
    """Watson's AudioDetails of one audio file: codec and sampling rate as the file declares them."""
    ctype = parse_content_type(content_type)
    if ctype.mime in RAW_TYPES:
        codec = {"audio/l16": "pcm_s16le", "audio/alaw": "pcm_alaw"}.get(ctype.mime, "pcm_mulaw")
        return {"type": "audio", "codec": codec, "frequency": int(ctype.params.get("rate", 8000))}
    import io

    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            return {"type": "audio", "codec": stream.codec_context.name, "frequency": int(stream.rate or 0)}
    except (av.error.FFmpegError, IndexError, ValueError):
        return {"type": "audio"}


class AudioResources:
    def __init__(self, models: CustomModels, jobs: JobRunner, pool: EnginePool) -> None:
        self.models = models
        self.db = models.db
        self.jobs = jobs
        self.pool = pool

    def register(self, jobs: JobRunner) -> None:
        jobs.register("analyze_audio", JobKind(self._analyze, self._analyze_failed))

    def folder(self, cid: str, rid: str) -> Path:
        return self.models.artifacts(cid) / "audio" / rid

    # -- add -------------------------------------------------------------------------------------
    def add(
        self,
        owner: str,
        cid: str,
        name: str,
        data: bytes,
        content_type: str,
        contained: str | None,
        allow_overwrite: bool,
    ) -> None:
        if not name or len(name) > MAX_NAME or "/" in name:
            raise BadRequest(f"The audio resource name must be 1 to {MAX_NAME} characters without '/'")
        mime = parse_content_type(content_type).mime
        compression = ARCHIVE_TYPES.get(mime)
        if compression is None:
            if contained:
                raise BadRequest("Contained-Content-Type applies to archives only; do not send it with one audio file")
            if mime not in ACCEPTED_TYPES:
                raise BadRequest(
                    f"Unsupported content type '{content_type}': send an audio type or an archive "
                    f"(application/zip, application/gzip)"
                )
            if not data:
                raise BadRequest("The audio resource is empty")
        else:
            if contained and parse_content_type(contained).mime not in ACCEPTED_TYPES:
                raise BadRequest(f"Contained-Content-Type '{contained}' is not an audio type")
            read_archive(data, compression)  # refuses unsafe archives before anything is stored
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            if row.status in BUSY:
                raise Conflict(f"The custom model is {row.status}; audio cannot be added now")
            old = s.scalar(select(AudioResource).where(AudioResource.model_id == cid, AudioResource.name == name))
            if old is not None:
                if not allow_overwrite:
                    raise BadRequest(f"Audio resource '{name}' already exists; set allow_overwrite=true to replace it")
                if old.status == "being_processed":
                    raise Conflict(f"Audio resource '{name}' is still being processed")
                shutil.rmtree(self.folder(cid, old.id), ignore_errors=True)
                s.delete(old)
                s.flush()
            res = AudioResource(
                model_id=cid,
                name=name,
                kind="audio" if compression is None else "archive",
                content_type=contained if compression else content_type,
                details={},
            )
            s.add(res)
            s.flush()
            folder = self.folder(cid, res.id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "upload").write_bytes(data)
            self.models_data_changed(row)
            payload = {"resource_id": res.id, "compression": compression}
        self.jobs.enqueue("analyze_audio", cid, payload)

    @staticmethod
    def models_data_changed(row: CustomModel) -> None:
        row.data_revision += 1
        if row.status not in BUSY:
            row.status = "pending"

    # -- the background analysis -----------------------------------------------------------------
    def _analyze(self, job: Job, progress: Progress) -> None:
        cid, rid = job.target_id, job.payload["resource_id"]
        with self.db.session() as s:
            res = s.get(AudioResource, rid)
            if res is None:
                return
            content_type = res.content_type
            model_row = s.get(CustomModel, cid)
            version = model_row.versions[-1] if model_row is not None else None
        folder = self.folder(cid, rid)
        data = (folder / "upload").read_bytes()
        compression = job.payload.get("compression")
        members: list[dict[str, Any]] = []
        if compression is None:
            items = [(None, data, content_type, None)]
        else:
            archive = read_archive(data, compression)
            items = [
                (
                    n,
                    d,
                    content_type or AUDIO_EXTENSIONS[PurePosixPath(n).suffix.lower()],
                    archive.transcripts.get(str(PurePosixPath(n).with_suffix(""))),
                )
                for n, d in archive.audio
            ]
        total, error = 0.0, None
        for i, (member, audio, ctype, transcript) in enumerate(items):
            entry: dict[str, Any] = {"name": member, "duration": 0, "details": {}, "status": "invalid"}
            try:
                samples = decode_audio(audio, ctype)
                write_pcm16(folder / f"m{i}.wav", samples)
                entry["duration"] = len(samples) / 16000
                entry["details"] = probe(audio, ctype)
                entry["status"] = "ok"
                if transcript is not None:
                    words = normalize_sentence(transcript)
                    if words:
                        (folder / f"m{i}.txt").write_text(" ".join(words))
                        entry["transcript"] = True
                if not entry.get("transcript") and version is not None:
                    self._first_pass(folder / f"m{i}.wav", version)
                total += entry["duration"]
            except ParlanceError as exc:
                error = error or f"{member or 'audio'}: {exc.message}"
            members.append(entry)
            progress(int(100 * (i + 1) / len(items)))
        (folder / "upload").unlink(missing_ok=True)
        with self.db.session() as s:
            res = s.get(AudioResource, rid)
            if res is None:
                return
            res.duration = total
            res.members = members
            # One invalid member makes the whole archive invalid (Watson).
            res.status = "invalid" if error else "ok"
            res.error = stored_error(error) if error else None
            res.details = (
                {"type": "archive", "compression": compression}
                if compression
                else (members[0]["details"] if not error else {"type": "undetermined"})
            )
        self.refresh_status(cid)

    def _first_pass(self, wav: Path, version: str) -> None:
        """Decode an untranscribed member now (see acoustic_first_pass). A failure here only costs time:
        training decodes what has no cached decoding."""
        key = acoustic_first_pass.DecodeKey(version)
        try:
            model = self.pool.model(self.models.catalog.version(version))
            stored = read_float(wav)  # what training reads: the same VAD pieces, the same samples
            acoustic_first_pass.write(wav, key, acoustic_first_pass.decode(model, stored, None))
        except ParlanceError as exc:
            log.warning("first-pass decoding of %s failed, left to training: %s", wav, exc.message)

    def _analyze_failed(self, job: Job, reason: str) -> None:
        with self.db.session() as s:
            res = s.get(AudioResource, job.payload["resource_id"])
            if res is not None:
                res.status, res.error, res.details = "invalid", stored_error(reason), {"type": "undetermined"}
        self.refresh_status(job.target_id)

    def refresh_status(self, cid: str) -> None:
        """pending (audio being processed, or none valid) / ready / available, busy states left alone.
        One UPDATE statement, so that an add committed meanwhile is never overwritten by a stale reading."""
        audio = select(AudioResource.id).where(AudioResource.model_id == cid)
        status = case(
            (audio.where(AudioResource.status == "being_processed").exists(), "pending"),
            (~audio.where(AudioResource.status == "ok").exists(), "pending"),
            (
                (CustomModel.trained_revision == CustomModel.data_revision) & (CustomModel.status != "failed"),
                "available",
            ),
            else_="ready",
        )
        with self.db.session() as s:
            s.execute(
                update(CustomModel)
                .where(CustomModel.id == cid, CustomModel.status.not_in(BUSY))
                .values(status=status, updated=utcnow())
            )

    # -- read / delete ---------------------------------------------------------------------------
    @staticmethod
    def describe(res: AudioResource) -> dict[str, Any]:
        return {"duration": int(round(res.duration)), "name": res.name, "details": res.details, "status": res.status}

    def list(self, owner: str, cid: str) -> dict[str, Any]:
        with self.db.session() as s:
            self.models.get_row(s, owner, cid, kind="acoustic")
            rows = s.scalars(
                select(AudioResource).where(AudioResource.model_id == cid).order_by(AudioResource.created)
            ).all()
            total = sum(r.duration for r in rows if r.status == "ok")
            return {"total_minutes_of_audio": round(total / 60, 2), "audio": [self.describe(r) for r in rows]}

    def get(self, owner: str, cid: str, name: str) -> dict[str, Any]:
        with self.db.session() as s:
            self.models.get_row(s, owner, cid, kind="acoustic")
            res = self._row(s, cid, name)
            if res.kind != "archive":
                return self.describe(res)
            members = [
                {
                    "duration": int(round(m["duration"])),
                    "name": m["name"],
                    "details": m["details"],
                    "status": m["status"],
                }
                for m in res.members
            ]
            return {"container": self.describe(res), "audio": members}

    @staticmethod
    def _row(s: Any, cid: str, name: str) -> AudioResource:
        res = s.scalar(select(AudioResource).where(AudioResource.model_id == cid, AudioResource.name == name))
        if res is None:
            raise NotFound(f"Audio resource '{name}' does not exist for custom model {cid}")
        return res  # type: ignore[no-any-return]

    def delete(self, owner: str, cid: str, name: str) -> None:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            if row.status in BUSY:
                raise Conflict(f"The custom model is {row.status}; audio cannot be deleted now")
            res = self._row(s, cid, name)
            rid = res.id
            s.delete(res)
            s.flush()
            row.data_revision += 1
        self.refresh_status(cid)
        shutil.rmtree(self.folder(cid, rid), ignore_errors=True)


def read_float(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
