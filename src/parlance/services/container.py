"""Wires the services together from one Settings object; shared by the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from parlance.engines.base import ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.jobs.runner import JobRunner
from parlance.services.acoustic_audio import AudioResources
from parlance.services.acoustic_models import AcousticModels
from parlance.services.auth import AuthService
from parlance.services.azure_models import AzureModels
from parlance.services.callbacks import Callbacks
from parlance.services.catalog import Catalog
from parlance.services.custom_models import CustomModels
from parlance.services.custom_resolver import CustomResolver
from parlance.services.datasets import Datasets
from parlance.services.endpoints import Endpoints
from parlance.services.engine_pool import EnginePool
from parlance.services.engine_process import ENTRY as ENGINE_PROCESS
from parlance.services.lifecycle import Clock, Lifecycle, system_clock
from parlance.services.recognition import RecognitionService
from parlance.services.recognition_jobs import RecognitionJobs
from parlance.services.resources import TextResources
from parlance.services.training import Training
from parlance.services.transcriptions import Transcriptions
from parlance.services.words import Words
from parlance.settings import Settings
from parlance.store.db import Database


def job_queue(settings: Settings, db: Database) -> JobRunner:
    """In-process threads by default; Celery workers when a broker is configured (same interface)."""
    if not settings.job_broker_url:
        return JobRunner(db, settings.job_workers, lease_seconds=settings.job_lease_seconds)
    from parlance.jobs.celery_queue import CeleryJobs

    return CeleryJobs(
        db, settings.job_broker_url, lease_seconds=settings.job_lease_seconds, threads=settings.job_workers
    )


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: AuthService
    catalog: Catalog
    pool: EnginePool
    recognition: RecognitionService
    recognition_jobs: RecognitionJobs
    callbacks: Callbacks
    jobs: JobRunner
    customizations: CustomModels
    corpora: TextResources
    grammars: TextResources
    words: Words
    training: Training
    lifecycle: Lifecycle
    endpoints: Endpoints
    datasets: Datasets
    azure_models: AzureModels
    transcriptions: Transcriptions
    acoustic: AcousticModels
    acoustic_audio: AudioResources

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        registry: EngineRegistry | None = None,
        builtins: list[ModelVersion] | None = None,
        clock: Clock = system_clock,
    ) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings)
        db.migrate()
        catalog = Catalog(settings, builtins)
        lifecycle = Lifecycle(settings, clock)
        pool = EnginePool(settings, registry or EngineRegistry(), ENGINE_PROCESS)
        jobs = job_queue(settings, db)
        customizations = CustomModels(
            settings,
            db,
            catalog,
            jobs,
            lambda base: pool.engine(catalog.newest(base)).capabilities.generation,
            lifecycle,
        )
        corpora, grammars = TextResources(customizations), TextResources(customizations, "grammar")
        words = Words(customizations)
        training = Training(customizations, corpora, grammars, words, pool)
        training.register(jobs)
        datasets = Datasets(settings, db)
        azure_models = AzureModels(catalog, lifecycle, customizations, corpora, datasets, jobs)
        azure_models.register(jobs)
        acoustic_audio = AudioResources(customizations, jobs, pool)
        acoustic_audio.register(jobs)
        acoustic = AcousticModels(customizations, acoustic_audio, training, pool)
        acoustic.register(jobs)
        resolver = CustomResolver(customizations, training, acoustic)
        endpoints = Endpoints(db, catalog, lifecycle)
        recognition = RecognitionService(catalog, pool, resolver, endpoints, lifecycle)
        callbacks = Callbacks(db, settings)
        transcriptions = Transcriptions(settings, db, catalog, lifecycle, azure_models, recognition, jobs)
        transcriptions.register(jobs)
        return cls(
            settings=settings,
            db=db,
            auth=AuthService(settings, db),
            catalog=catalog,
            pool=pool,
            recognition=recognition,
            recognition_jobs=RecognitionJobs(settings, db, jobs, recognition, callbacks),
            callbacks=callbacks,
            jobs=jobs,
            customizations=customizations,
            corpora=corpora,
            grammars=grammars,
            words=words,
            training=training,
            lifecycle=lifecycle,
            endpoints=endpoints,
            datasets=datasets,
            azure_models=azure_models,
            transcriptions=transcriptions,
            acoustic=acoustic,
            acoustic_audio=acoustic_audio,
        )

    def start(self) -> None:
        self.jobs.start()

    def close(self) -> None:
        self.jobs.stop()
        self.pool.close()
        self.db.close()
