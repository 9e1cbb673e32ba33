"""Background work on custom language models: corpus analysis, word batches, training.

Trained artifacts live in `artifacts/<cid>/models/<version>/<revision>/`, built in a temporary
directory and published by atomically replacing the `current` pointer, so a crash or failure never
leaves a half-written model in use.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from parlance.engines.base import CustomArtifact, ModelVersion, TrainingInput
from parlance.errors import BadRequest
from parlance.jobs.runner import JobKind, JobRunner, Progress
from parlance.services.custom_models import DEFAULT_WEIGHT, CustomModels, stored_error
from parlance.services.engine_pool import EnginePool
from parlance.services.resources import TextResources
from parlance.services.words import Words
from parlance.store.orm import Corpus, CustomModel, Job, utcnow

MAX_OOV_WORDS = 90_000


def current_artifacts(models: CustomModels, cid: str, version: str) -> Path | None:
    pointer = models.artifacts(cid) / "models" / version / "current"
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if path.is_dir() else None


def publish(version_dir: Path, build_dir: Path, name: str) -> None:
    final = version_dir / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(build_dir, final)
    tmp = version_dir / "current.tmp"
    tmp.write_text(name)
    os.replace(tmp, version_dir / "current")
    for old in version_dir.iterdir():  # older builds are no longer referenced
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)


class Training:
    def __init__(
        self, models: CustomModels, corpora: TextResources, grammars: TextResources, words: Words, pool: EnginePool
    ) -> None:
        self.models = models
        self.corpora = corpora
        self.grammars = grammars
        self.words = words
        self.pool = pool
        self.db = models.db

    def register(self, jobs: JobRunner) -> None:
        jobs.register("analyze_corpus", JobKind(self._analyze, self._analyze_failed))
        jobs.register("analyze_grammar", JobKind(self._analyze_grammar, self._analyze_grammar_failed))
        jobs.register("add_words", JobKind(lambda job, _: self.words.finish_batch(job.target_id), self._words_failed))
        jobs.register("train_language_model", JobKind(self._train, self._train_failed))
        jobs.register("upgrade_language_model", JobKind(self._upgrade, self._upgrade_failed))

    def _words_failed(self, job: Job, reason: str) -> None:
        self.words.finish_batch(job.target_id)

    # -- corpus analysis -------------------------------------------------------------------
    def analyzer(self, version: ModelVersion) -> Any:
        from parlance.customization.languages import corpus_sentences

        engine = self.pool.engine(version)

        def analyze(text: str, media_type: str) -> tuple[int, dict[str, int]]:
            counts: Counter[str] = Counter()
            for sentence in corpus_sentences(text, version.language):  # words as the language counts them
                counts.update(sentence)
            total = sum(counts.values())
            if engine.capabilities.generation != "previous":
                return total, {}  # next generation learns sequences; no OOV words
            oov = {w: c for w, c in counts.most_common() if not engine.in_vocabulary(version, w)}
            return total, dict(list(oov.items())[:MAX_OOV_WORDS])

        return analyze

    def grammar_analyzer(self, version: ModelVersion) -> Any:
        from parlance.customization.srgs import compile_grammar

        engine = self.pool.engine(version)

        def analyze(text: str, media_type: str) -> tuple[int, dict[str, int]]:
            vocabulary = compile_grammar(text, media_type).vocabulary()
            if engine.capabilities.generation != "previous":
                return len(vocabulary), {}
            return len(vocabulary), {w: 1 for w in sorted(vocabulary) if not engine.in_vocabulary(version, w)}

        return analyze

    def _analyze_grammar(self, job: Job, progress: Progress) -> None:
        version = self._version_of(job.target_id)
        self.grammars.analyze(job.target_id, job.payload["corpus_id"], self.grammar_analyzer(version))

    def _analyze_grammar_failed(self, job: Job, reason: str) -> None:
        self.grammars.on_failure(job.target_id, job.payload["corpus_id"], reason)

    def _version_of(self, cid: str) -> ModelVersion:
        with self.db.session() as s:
            row = s.get(CustomModel, cid)
            if row is None:
                raise BadRequest("The custom model was deleted")
            return self.models.catalog.version(row.versions[-1])

    def _analyze(self, job: Job, progress: Progress) -> None:
        self.corpora.analyze(job.target_id, job.payload["corpus_id"], self.analyzer(self._version_of(job.target_id)))

    def _analyze_failed(self, job: Job, reason: str) -> None:
        self.corpora.on_failure(job.target_id, job.payload["corpus_id"], reason)

    # -- training --------------------------------------------------------------------------
    def training_input(self, cid: str, word_type_to_add: str) -> tuple[CustomModel, TrainingInput]:
        with self.db.session() as s:
            row = s.get(CustomModel, cid)
            if row is None:
                raise BadRequest("The custom model was deleted during training")
            corpora = {
                c.name: self.corpora.path(cid, c.id).read_text(encoding="utf-8")
                for c in s.scalars(
                    select(Corpus).where(Corpus.model_id == cid, Corpus.status == "analyzed", Corpus.kind == "corpus")
                )
            }
            words = self.words.training_words(s, row, word_type_to_add)
            generation = self.models.generation(row.base_model_name)
            weight = row.customization_weight if row.customization_weight is not None else DEFAULT_WEIGHT[generation]
        return row, TrainingInput(corpora=corpora, words=words, weight=weight, word_type_to_add=word_type_to_add)

    def build(self, cid: str, version: ModelVersion, data: TrainingInput, revision: int, progress: Progress) -> None:
        """Train artifacts for one base-model version and publish them atomically."""
        version_dir = self.models.artifacts(cid) / "models" / version.version
        version_dir.mkdir(parents=True, exist_ok=True)
        build_dir = Path(tempfile.mkdtemp(prefix=".build-", dir=version_dir))
        try:
            self.pool.engine(version).train(version, data, build_dir, progress)
            self._compile_grammars(cid, build_dir / "grammars")
            publish(version_dir, build_dir, f"rev-{revision}")
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)

    def _compile_grammars(self, cid: str, out: Path) -> None:
        """Analyzed grammars become part of the trained model, as in Watson (usable only after training)."""
        with self.db.session() as s:
            rows = s.scalars(
                select(Corpus).where(Corpus.model_id == cid, Corpus.kind == "grammar", Corpus.status == "analyzed")
            ).all()
        if not rows:
            return
        from parlance.customization.srgs import compile_grammar

        for g in rows:
            grammar = compile_grammar(self.grammars.path(cid, g.id).read_text(encoding="utf-8"), g.media_type)
            out.mkdir(exist_ok=True)
            (out / f"{g.id}.fsg").write_text(grammar.to_fsg(f"g{g.id.replace('-', '')}"))
            (out / f"{g.id}.json").write_text(grammar.to_json())

    def _train(self, job: Job, progress: Progress) -> None:
        cid = job.target_id
        row, data = self.training_input(cid, job.payload.get("word_type_to_add", "all"))
        version = self.models.catalog.version(row.versions[-1])

        def report(pct: int) -> None:
            pct = max(0, min(99, int(pct)))
            progress(pct)
            with self.db.session() as s:
                m = s.get(CustomModel, cid)
                if m is not None:
                    m.progress = pct

        self.build(cid, version, data, job.payload["revision"], report)
        with self.db.session() as s:
            m = s.get(CustomModel, cid)
            if m is None:
                return
            m.trained_revision = job.payload["revision"]
            m.status = "available" if m.trained_revision == m.data_revision else "ready"
            m.progress, m.error, m.updated = 100, None, utcnow()

    def _train_failed(self, job: Job, reason: str) -> None:
        with self.db.session() as s:
            m = s.get(CustomModel, job.target_id)
            if m is not None:
                m.status, m.progress, m.error = "failed", 0, stored_error(f"Training failed: {reason}", 500)

    # -- upgrade -----------------------------------------------------------------------------
    def _upgrade(self, job: Job, progress: Progress) -> None:
        """Rebuild the trained artifacts for the target version; old versions' artifacts stay in use."""
        cid, target = job.target_id, job.payload["target"]
        version = self.models.catalog.version(target)
        if job.payload["previous"] == "available":
            _, data = self.training_input(cid, "all")
            self.build(cid, version, data, job.payload["revision"], progress)
        with self.db.session() as s:
            m = s.get(CustomModel, cid)
            if m is None:
                return
            if target not in m.versions:
                m.versions = [*m.versions, target]
            m.status, m.progress, m.updated = job.payload["previous"], 100, utcnow()

    def _upgrade_failed(self, job: Job, reason: str) -> None:
        with self.db.session() as s:
            m = s.get(CustomModel, job.target_id)
            if m is not None:
                m.status = job.payload["previous"]
                m.error = stored_error(f"Upgrade to {job.payload['target']} failed: {reason}", 500)

    # -- recognition -------------------------------------------------------------------------
    def engine_model(self, row: CustomModel, version: str, weight: float | None) -> CustomArtifact | None:
        path = current_artifacts(self.models, row.id, version)
        if path is None:
            return None
        generation = self.models.generation(row.base_model_name)
        saved = row.customization_weight if row.customization_weight is not None else DEFAULT_WEIGHT[generation]
        return CustomArtifact(path=path, weight=weight if weight is not None else saved)
