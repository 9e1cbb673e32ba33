"""Custom acoustic models: creation, ownership, the status lifecycle, training, reset and upgrade (seed 000).

Rows are `CustomModel`s of kind `acoustic`; the rules follow the language models' (`custom_models.py`).
Trained artifacts live in `artifacts/<cid>/acoustic/<version>/rev-N/`, one per base-model version, built
in a temporary folder and published with one rename (`training.publish`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, select, update

from parlance.engines.base import AcousticAdapter, AdaptationInput, AdaptationUtterance, CustomArtifact, ModelVersion
from parlance.errors import BadRequest, Conflict, NotFound
from parlance.jobs.runner import JobKind, JobRunner, Progress
from parlance.services import acoustic_first_pass
from parlance.services.acoustic_audio import AudioResources, read_float
from parlance.services.custom_models import MAX_MODELS_PER_OWNER, CustomModels, create_body, stored_error
from parlance.services.engine_pool import EnginePool
from parlance.services.training import Training, publish
from parlance.store.orm import AudioResource, CustomModel, Job, utcnow

BUSY = ("training", "upgrading")
MAX_HOURS = 200.0  # Watson (Cloud Pak for Data)
NOT_MODIFIED = "No input data modified since last training"


class AcousticModels:
    def __init__(self, models: CustomModels, audio: AudioResources, training: Training, pool: EnginePool) -> None:
        self.models = models
        self.audio = audio
        self.training = training
        self.pool = pool
        self.db = models.db
        self.catalog = models.catalog
        self.settings = models.settings

    def register(self, jobs: JobRunner) -> None:
        jobs.register("train_acoustic_model", JobKind(self._train, self._train_failed))
        jobs.register("upgrade_acoustic_model", JobKind(self._upgrade, self._upgrade_failed))

    def _adapter(self, version: ModelVersion) -> AcousticAdapter:
        engine = self.pool.engine(version)
        if not engine.capabilities.acoustic_adaptation:
            raise BadRequest(f"Custom acoustic models are not supported for base model {version.base_model}")
        return cast(AcousticAdapter, engine)

    # -- create / read / delete -----------------------------------------------------------------
    def create(self, owner: str, body: dict[str, Any]) -> str:
        name, description, base, newest = create_body(self.catalog, body)
        if not self.pool.engine(newest).capabilities.acoustic_adaptation:
            raise BadRequest(f"The base model '{base}' does not support acoustic model customization.")
        with self.db.session() as s:
            mine = (CustomModel.owner == owner, CustomModel.kind == "acoustic")
            if (s.scalar(select(func.count()).where(*mine)) or 0) >= MAX_MODELS_PER_OWNER:
                raise BadRequest(f"The limit of {MAX_MODELS_PER_OWNER} custom acoustic models has been reached")
            if s.scalar(select(CustomModel.id).where(*mine, CustomModel.name == name)):
                raise Conflict(f"A custom acoustic model named '{name}' already exists")
            row = CustomModel(
                kind="acoustic",
                owner=owner,
                name=name,
                description=description,
                base_model_name=base,
                language=newest.language,
                dialect=newest.language,
                versions=[newest.version],
            )
            s.add(row)
            s.flush()
            return row.id

    def describe(self, row: CustomModel) -> dict[str, Any]:
        out = self.models.describe(row)
        out.pop("dialect", None)  # Watson's AcousticModel has no dialect
        return out

    def get(self, owner: str, cid: str) -> dict[str, Any]:
        with self.db.session() as s:
            return self.describe(self.models.get_row(s, owner, cid, kind="acoustic"))

    def list(self, owner: str, language: str | None) -> dict[str, Any]:
        with self.db.session() as s:
            q = select(CustomModel).where(CustomModel.owner == owner, CustomModel.kind == "acoustic")
            if language:
                q = q.where(CustomModel.language == language)
            return {"customizations": [self.describe(r) for r in s.scalars(q.order_by(CustomModel.created))]}

    def delete(self, owner: str, cid: str) -> None:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            if row.status in BUSY:
                raise Conflict(f"The custom model is {row.status} and cannot be deleted now; try again later")
            s.delete(row)
        shutil.rmtree(self.models.artifacts(cid), ignore_errors=True)

    def reset(self, owner: str, cid: str) -> None:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            if row.status in BUSY:
                raise Conflict(f"The custom model is {row.status} and cannot be reset now; try again later")
            for res in list(row.audio):
                s.delete(res)
            row.status, row.progress, row.error, row.warnings = "pending", 0, None, None
            row.trained_revision, row.data_revision = -1, row.data_revision + 1
        shutil.rmtree(self.models.artifacts(cid), ignore_errors=True)

    # -- artifacts ----------------------------------------------------------------------------------
    def version_dir(self, cid: str, version: str) -> Path:
        return self.models.artifacts(cid) / "acoustic" / version

    def artifact(self, cid: str, version: str) -> Path | None:
        pointer = self.version_dir(cid, version) / "current"
        if not pointer.is_file():
            return None
        path = pointer.parent / pointer.read_text().strip()
        return path if (path / "model.json").is_file() else None

    def artifact_meta(self, cid: str, version: str) -> dict[str, Any]:
        path = self.artifact(cid, version)
        return json.loads((path / "model.json").read_text()) if path else {}

    # -- train ----------------------------------------------------------------------------------------
    def _language_model(self, owner: str, lid: str | None, version: str) -> CustomModel | None:
        """The helper custom language model: the owner's, available, and trained for `version`."""
        if not lid:
            return None
        with self.db.session() as s:
            try:
                lm = self.models.get_row(s, owner, lid)
            except NotFound:
                raise BadRequest(f"Custom language model {lid} does not exist") from None
            s.expunge(lm)
        if lm.status != "available" and not (lm.status == "upgrading" and version in lm.versions):
            raise BadRequest(f"Custom language model {lid} is {lm.status}; it must be available (trained)")
        if version not in lm.versions or self.training.engine_model(lm, version, None) is None:
            raise BadRequest(
                f"Custom language model {lid} is not built for base model version {version}; "
                "both custom models must be on the same base model version (upgrade the language model first)"
            )
        return lm

    def _check_audio(self, s: Any, cid: str, strict: bool) -> list[dict[str, str]]:
        rows = s.scalars(select(AudioResource).where(AudioResource.model_id == cid)).all()
        if any(r.status == "being_processed" for r in rows):
            raise Conflict("Audio is still being processed for this custom model; train after it is analyzed")
        invalid = [r.name for r in rows if r.status == "invalid"]
        warnings = []
        if invalid:
            message = (
                f"Analysis of the following audio files has not completed successfully: [{', '.join(invalid)}]. "
                "They will be excluded from custom acoustic model training."
            )
            warnings.append({"code": "invalid_audio_files", "message": message})
        minutes = sum(r.duration for r in rows if r.status == "ok") / 60
        low = self.settings.acoustic_min_minutes
        if not low <= minutes <= MAX_HOURS * 60 or minutes == 0:
            raise _Refusal(
                f"The audio duration must be between {low:g} minutes and {MAX_HOURS:g} hours; "
                f"this model has {minutes:.2f} minutes of valid audio"
            )
        if warnings and strict:
            raise _Refusal(warnings[0]["message"] + " Set strict=false to train without them.")
        return warnings

    def train(self, owner: str, cid: str, lid: str | None, strict: bool = True) -> dict[str, Any]:
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            version = row.versions[-1]
            self.models.lifecycle.check_adaptation(self.catalog.newest(row.base_model_name))
            if row.status in BUSY:
                raise Conflict(f"The custom model is {row.status} and cannot be trained now; try again later")
        self._language_model(owner, lid, version)
        refusal = None
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, lock=True, kind="acoustic")
            try:
                warnings = self._check_audio(s, cid, strict)
            except _Refusal as exc:  # Watson marks the model failed and answers 400
                refusal = exc.message
                row.status, row.error = "failed", stored_error(refusal)
        if refusal:
            raise BadRequest(refusal)
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, kind="acoustic")
            claimed = s.execute(
                update(CustomModel)
                .where(CustomModel.id == cid, CustomModel.status.not_in(BUSY))
                .values(status="training", progress=0, error=None, updated=utcnow())
            ).rowcount
            if not claimed:
                raise Conflict("The custom model is busy; try again later")
            payload = {"revision": row.data_revision, "version": version, "language": lid, "owner": owner}
        self.models.jobs.enqueue("train_acoustic_model", cid, payload)
        return {"warnings": warnings} if warnings else {}

    def adaptation_input(
        self, cid: str, version: ModelVersion, lm: CustomModel | None, language: CustomArtifact | None
    ) -> AdaptationInput:
        """The model's valid audio: members with a transcript whole, the others as the pieces (split at
        pauses) of their first-pass decoding, cached since the audio was added when made by `version` with
        the same custom language model (or none), else decoded now."""
        utterances: list[AdaptationUtterance] = []
        with self.db.session() as s:
            rows = s.scalars(
                select(AudioResource).where(AudioResource.model_id == cid, AudioResource.status == "ok")
            ).all()
            members = [(r.id, r.name, list(r.members) or [{"name": None}]) for r in rows]
        key = acoustic_first_pass.DecodeKey(version.version, lm.id if lm else None, lm.trained_revision if lm else None)
        for rid, name, entries in members:
            folder = self.audio.folder(cid, rid)
            for i, entry in enumerate(entries):
                wav, txt = folder / f"m{i}.wav", folder / f"m{i}.txt"
                if not wav.is_file():
                    continue
                label = f"{name}/{entry.get('name')}" if entry.get("name") else name
                if txt.is_file():
                    utterances.append(AdaptationUtterance(wav, label, transcript=txt.read_text()))
                    continue
                segments = acoustic_first_pass.read(wav, key)
                if segments is None:
                    model = self.pool.model(version)
                    segments = acoustic_first_pass.decoded(model, wav, read_float(wav), key, language)
                for seg in segments:
                    utterances.append(AdaptationUtterance(wav, label, seg.start, seg.end, decoded=seg.words))
        cache = self.settings.data_dir / "acoustic-base"
        return AdaptationInput(utterances, cache, language)

    def build(self, cid: str, version: ModelVersion, lm: CustomModel | None, revision: int, progress: Progress) -> None:
        language = self.training.engine_model(lm, version.version, None) if lm is not None else None
        data = self.adaptation_input(cid, version, lm, language)
        version_dir = self.version_dir(cid, version.version)
        version_dir.mkdir(parents=True, exist_ok=True)
        build_dir = Path(tempfile.mkdtemp(prefix=".build-", dir=version_dir))
        try:
            summary = self._adapter(version).adapt(version, data, build_dir, progress)
            meta = {
                **summary,
                "language_customization_id": lm.id if lm else None,
                "language_revision": lm.trained_revision if lm else None,
                "revision": revision,
            }
            (build_dir / "model.json").write_text(json.dumps(meta, indent=1))
            publish(version_dir, build_dir, f"rev-{revision}")
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)

    def _progress(self, cid: str, progress: Progress) -> Progress:
        def report(pct: int) -> None:
            pct = max(0, min(99, int(pct)))
            progress(pct)
            with self.db.session() as s:
                m = s.get(CustomModel, cid)
                if m is not None:
                    m.progress = pct

        return report

    def _lm_row(self, owner: str, lid: str | None) -> CustomModel | None:
        if not lid:
            return None
        with self.db.session() as s:
            lm = self.models.get_row(s, owner, lid)
            s.expunge(lm)
            return lm

    def _train(self, job: Job, progress: Progress) -> None:
        cid, p = job.target_id, job.payload
        version = self.catalog.version(p["version"])
        self.build(cid, version, self._lm_row(p["owner"], p["language"]), p["revision"], self._progress(cid, progress))
        with self.db.session() as s:
            m = s.get(CustomModel, cid)
            if m is None:
                return
            m.trained_revision = p["revision"]
            m.status = "available" if m.trained_revision == m.data_revision else "ready"
            m.progress, m.error, m.updated = 100, None, utcnow()

    def _train_failed(self, job: Job, reason: str) -> None:
        with self.db.session() as s:
            m = s.get(CustomModel, job.target_id)
            if m is not None:
                m.status, m.progress, m.error = "failed", 0, stored_error(f"Training failed: {reason}", 500)

    # -- upgrade (seed 000) ---------------------------------------------------------------------------
    def upgrade(self, owner: str, cid: str, lid: str | None, force: bool = False) -> None:
        """Build the model for the newest base version. With a custom language model (upgraded first),
        this is seed 000's second pass; when nothing changed since that model was used, `force` is needed."""
        with self.db.session() as s:
            row = self.models.get_row(s, owner, cid, kind="acoustic")
            s.expunge(row)
            has_audio = s.scalar(
                select(AudioResource.id).where(AudioResource.model_id == cid, AudioResource.status == "ok")
            )
        if row.status in BUSY:
            raise Conflict(f"The custom model is busy ({row.status}); it cannot be upgraded now")
        if row.status not in ("ready", "available"):
            raise BadRequest(f"Only a ready or available custom model can be upgraded; this one is {row.status}")
        if not has_audio:
            raise BadRequest("The custom model has no data; there is nothing to upgrade")
        newest = self.catalog.newest(row.base_model_name)
        self.models.lifecycle.check_adaptation(newest, "used to upgrade custom models")
        lm = self._language_model(owner, lid, newest.version) if lid else None
        if newest.version in row.versions:
            if lm is None:
                raise BadRequest(
                    f"The custom model is up-to-date: it is already built for {newest.version}, "
                    f"the newest version of {row.base_model_name}"
                )
            meta = self.artifact_meta(cid, newest.version)
            same = meta.get("language_customization_id") == lm.id
            if same and meta.get("language_revision") == lm.trained_revision and not force:
                raise BadRequest(NOT_MODIFIED)
        previous = row.status
        with self.db.session() as s:
            claimed = s.execute(
                update(CustomModel)
                .where(CustomModel.id == cid, CustomModel.status == previous)
                .values(status="upgrading", progress=0, error=None, updated=utcnow())
            ).rowcount
            if not claimed:
                raise Conflict("The custom model is busy; it cannot be upgraded now")
        payload = {
            "previous": previous,
            "target": newest.version,
            "revision": row.trained_revision,
            "language": lid,
            "owner": owner,
        }
        self.models.jobs.enqueue("upgrade_acoustic_model", cid, payload)

    def _upgrade(self, job: Job, progress: Progress) -> None:
        cid, p = job.target_id, job.payload
        if p["previous"] == "available":
            version = self.catalog.version(p["target"])
            lm = self._lm_row(p["owner"], p["language"])
            self.build(cid, version, lm, p["revision"], self._progress(cid, progress))
        with self.db.session() as s:
            m = s.get(CustomModel, cid)
            if m is None:
                return
            if p["target"] not in m.versions:
                m.versions = [*m.versions, p["target"]]
            m.status, m.progress, m.updated = p["previous"], 100, utcnow()

    def _upgrade_failed(self, job: Job, reason: str) -> None:
        with self.db.session() as s:
            m = s.get(CustomModel, job.target_id)
            if m is not None:
                m.status = job.payload["previous"]
                m.error = stored_error(f"Upgrade to {job.payload['target']} failed: {reason}", 500)

    # -- recognition ----------------------------------------------------------------------------------
    def trained_versions(self, row: CustomModel) -> list[str]:
        return [v for v in row.versions if self.artifact(row.id, v) is not None]


class _Refusal(BadRequest):
    """A training refusal that also marks the model failed."""
