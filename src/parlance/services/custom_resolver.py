"""Which base-model version and custom artifacts a recognition request with a custom model uses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from parlance.engines.base import ModelVersion
from parlance.errors import BadRequest, ModelExpired
from parlance.services.custom_models import CustomModels
from parlance.services.lifecycle import iso_date
from parlance.services.recognition import RecognizeParams, Resolved
from parlance.services.training import Training
from parlance.store.orm import Corpus, CustomModel

OLD_VERSION_WARNING = (
    "Using previous version of base model, because your custom model has been built with it. "
    "Please note that this version will be supported only for a limited time. Consider updating "
    "your custom model to the new base model. If you do not do that you will be automatically "
    "switched to base model when you used the non-updated custom model."
)
NOT_TRAINED = "Requested custom language model is not available. Please make sure the custom model is trained."


class CustomResolver:
    def __init__(self, models: CustomModels, training: Training) -> None:
        self.models = models
        self.training = training

    def resolve(self, owner: str, params: RecognizeParams, newest: ModelVersion) -> Resolved:
        cid = params.custom_id
        assert cid is not None
        with self.models.db.session() as s:
            row = self.models.get_row(s, owner, cid)
            s.expunge(row)
        warnings: list[str] = []
        self._check_lifecycle(row, newest, warnings)
        if row.base_model_name != params.model:
            raise BadRequest(
                f"The custom model's base model {row.base_model_name} does not match the requested model {params.model}"
            )
        trained = [v for v in row.versions if self.training.engine_model(row, v, None) is not None]
        if params.base_model_version:
            if params.base_model_version not in row.versions:
                raise BadRequest(
                    f"The custom model is not built for base model version {params.base_model_version}; "
                    f"its versions are {', '.join(row.versions)}"
                )
            version = params.base_model_version
        elif trained:
            version = trained[-1]
        else:
            raise BadRequest(NOT_TRAINED)
        custom = self.training.engine_model(row, version, params.customization_weight)
        if custom is None:
            raise BadRequest(NOT_TRAINED)
        if version != newest.version:
            warnings.append(OLD_VERSION_WARNING)
        grammar = self._grammar(row, params.grammar_name, custom.path) if params.grammar_name else None
        return Resolved(self.models.catalog.version(version), custom, grammar, warnings)

    def _check_lifecycle(self, row: CustomModel, newest: ModelVersion, warnings: list[str]) -> None:
        """400 past the model's transcription date (an endpoint falls back instead); a warning shortly before."""
        lifecycle = self.models.lifecycle
        date = lifecycle.custom_dates(row.created).transcription
        if lifecycle.passed(date):
            raise ModelExpired(
                f"Custom model {row.id} expired on {iso_date(date)} and can no longer be used for recognition. "
                f"The newest usable model is the base model {newest.base_model} ({newest.version}): recognize "
                "without language_customization_id, train a new custom model, or recognize through an endpoint "
                "(which falls back to the base model)."
            )
        warning = lifecycle.expiry_warning(f"Custom model {row.id}", date)
        if warning:
            warnings.append(warning)

    def _grammar(self, row: CustomModel, name: str, trained: Path) -> Path:
        with self.models.db.session() as s:
            g = s.scalar(select(Corpus).where(Corpus.model_id == row.id, Corpus.kind == "grammar", Corpus.name == name))
            if g is None:
                raise BadRequest(f"Grammar '{name}' is not defined for custom model {row.id}")
            if g.status != "analyzed":
                raise BadRequest(f"Grammar '{name}' is {g.status}; it cannot be used: {g.error or ''}".rstrip(": "))
            compiled = trained / "grammars" / f"{g.id}.fsg"
        if not compiled.is_file():
            raise BadRequest(f"Grammar '{name}' has not been trained; train the custom model before using it")
        return compiled
