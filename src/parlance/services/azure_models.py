"""Custom models created through Azure's `POST /models`: the same custom language models as Watson's.

Azure creates and trains in one call, from datasets. Here that is a Watson custom model whose corpora are
the datasets (one corpus `dataset-{id}` each), then a training: a background job adds the datasets one at a
time (a model analyzes one corpus at a time) and trains when the last is analyzed. While it waits for an
analysis it re-queues itself instead of holding a job worker.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from parlance.errors import BadRequest, Conflict, ModelExists
from parlance.jobs.runner import JobKind, JobRunner
from parlance.services.catalog import Catalog
from parlance.services.custom_models import CustomModels, stored_error
from parlance.services.datasets import Datasets
from parlance.services.endpoints import ModelRef
from parlance.services.lifecycle import Lifecycle
from parlance.services.owned import list_owned
from parlance.services.resources import TextResources
from parlance.store.orm import Corpus, CustomModel, Job

JOB = "azure_create_model"
DATASET_PREFIX = "dataset-"
RECHECK_SECONDS = 0.2


class AzureModels:
    def __init__(
        self,
        catalog: Catalog,
        lifecycle: Lifecycle,
        customizations: CustomModels,
        corpora: TextResources,
        datasets: Datasets,
        jobs: JobRunner,
    ) -> None:
        self.catalog = catalog
        self.lifecycle = lifecycle
        self.customizations = customizations
        self.corpora = corpora
        self.datasets = datasets
        self.jobs = jobs

    def register(self, jobs: JobRunner) -> None:
        jobs.register(JOB, JobKind(self._continue, self._failed))

    def default_base(self, locale: str) -> str:
        """The base model whose newest version is the newest of the locale (Azure: the default base model)."""
        bases = [b for b in self.catalog.base_models() if self.catalog.newest(b).language.lower() == locale.lower()]
        if not bases:
            raise BadRequest(f"No base model is installed for locale {locale}")
        return max(bases, key=lambda b: (self.catalog.newest(b).created, b))

    def create(
        self,
        owner: str,
        *,
        display_name: str,
        locale: str,
        base: ModelRef | None,
        dataset_ids: list[str],
        description: str = "",
        weight_percent: int | None = None,
    ) -> str:
        if base is not None and base.kind != "base":
            raise BadRequest("baseModel must reference a base model")
        base_model = self.catalog.version(base.id).base_model if base else self.default_base(locale)
        newest = self.catalog.newest(base_model)
        if newest.language.lower() != locale.lower():
            raise BadRequest(f"The base model's locale {newest.language} does not match the locale {locale}")
        self.lifecycle.check_adaptation(newest)
        if not dataset_ids:
            raise BadRequest("At least one dataset is required to create a custom model")
        if weight_percent is not None and not 1 <= weight_percent <= 100:
            raise BadRequest("customModelWeightPercent must be between 1 and 100")
        texts = [(d, self.datasets.text(owner, d)) for d in dataset_ids]  # 404 for unknown datasets, early
        try:
            cid = self.customizations.create(
                owner, {"name": display_name, "base_model_name": base_model, "description": description[:128]}
            )
        except Conflict as exc:
            raise ModelExists(exc.message) from None
        first, text = texts[0]
        self.corpora.add(owner, cid, DATASET_PREFIX + first, text.encode("utf-8"), allow_overwrite=False)
        payload = {"owner": owner, "datasets": [d for d, _ in texts[1:]], "weight_percent": weight_percent}
        self.jobs.enqueue(JOB, cid, payload)
        return cid

    def row(self, owner: str, cid: str) -> CustomModel:
        with self.customizations.db.session() as s:
            row = self.customizations.get_row(s, owner, cid)
            s.expunge(row)
            return row

    def rows(self, owner: str, skip: int, top: int) -> tuple[list[CustomModel], int]:
        """The instance's custom language models, oldest first, and how many there are."""
        with self.customizations.db.session() as s:
            return list_owned(s, CustomModel, owner, skip, top, CustomModel.kind == "language")

    def dataset_ids(self, cid: str) -> list[str]:
        with self.customizations.db.session() as s:
            names = s.scalars(select(Corpus.name).where(Corpus.model_id == cid, Corpus.kind == "corpus"))
            return [n[len(DATASET_PREFIX) :] for n in names if n.startswith(DATASET_PREFIX)]

    def _continue(self, job: Job, _progress: Any) -> None:
        owner, remaining = job.payload["owner"], list(job.payload["datasets"])
        with self.customizations.db.session() as s:
            busy = CustomModels.pending_work(s, job.target_id)
        if busy:  # wait for the analysis without holding this worker
            time.sleep(RECHECK_SECONDS)
            self.jobs.enqueue(JOB, job.target_id, dict(job.payload))
            return
        if remaining:
            dataset = remaining.pop(0)
            text = self.datasets.text(owner, dataset)
            self.corpora.add(owner, job.target_id, DATASET_PREFIX + dataset, text.encode("utf-8"), False)
            self.jobs.enqueue(JOB, job.target_id, {**job.payload, "datasets": remaining})
            return
        percent = job.payload.get("weight_percent")
        self.customizations.train(
            owner, job.target_id, {} if percent is None else {"customization_weight": percent / 100}
        )

    def _failed(self, job: Job, reason: str) -> None:
        with self.customizations.db.session() as s:
            row = s.get(CustomModel, job.target_id)
            if row is not None and row.status != "training":
                row.status, row.error = "failed", stored_error(reason)
