"""Which base-model version and custom artifacts a recognition request with a custom model uses."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

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


AM_NOT_TRAINED = "Requested custom acoustic model is not available. Please make sure the custom model is trained."


class AcousticArtifacts(Protocol):
    def trained_versions(self, row: CustomModel) -> list[str]: ...

    def artifact(self, cid: str, version: str) -> Path | None: ...


class CustomResolver:
    def __init__(self, models: CustomModels, training: Training, acoustic: AcousticArtifacts | None = None) -> None:
        self.models = models
        self.training = training
        self.acoustic = acoustic

    def _row(self, owner: str, cid: str, kind: str) -> CustomModel:
        with self.models.db.session() as s:
            row = self.models.get_row(s, owner, cid, kind=kind)
            s.expunge(row)
        return row

    def resolve(self, owner: str, params: RecognizeParams, newest: ModelVersion) -> Resolved:
        """Seed 000's rules: each custom model on the requested base model; with both, the newest version
        both are trained for (or `base_model_version`, which both must have)."""
        warnings: list[str] = []
        rows: list[tuple[CustomModel, list[str], str]] = []  # (row, trained versions, not-trained message)
        if params.custom_id:
            lm = self._row(owner, params.custom_id, "language")
            self._check_lifecycle(lm, newest, warnings)
            trained = [v for v in lm.versions if self.training.engine_model(lm, v, None) is not None]
            rows.append((lm, trained, NOT_TRAINED))
        elif params.customization_weight is not None:
            raise BadRequest("Cannot specify customization weight when not using customization.")
        am = None
        if params.acoustic_customization_id:
            if self.acoustic is None:
                raise BadRequest("Custom acoustic models are not available on this server")
            am = self._row(owner, params.acoustic_customization_id, "acoustic")
            rows.append((am, self.acoustic.trained_versions(am), AM_NOT_TRAINED))
        for row, _, _ in rows:
            if row.base_model_name != params.model:
                raise BadRequest(
                    f"The custom model's base model {row.base_model_name} does not match the requested model "
                    f"{params.model}"
                )
        if params.base_model_version:
            for row, _, _ in rows:
                if params.base_model_version not in row.versions:
                    raise BadRequest(
                        f"The custom model is not built for base model version {params.base_model_version}; "
                        f"its versions are {', '.join(row.versions)}"
                    )
            version = params.base_model_version
        else:
            for _row, trained, message in rows:
                if not trained:
                    raise BadRequest(message)
            common = [v for v in rows[0][1] if all(v in trained for _, trained, _ in rows)]
            if not common:
                raise BadRequest(
                    "The custom language and acoustic models share no trained base model version; "
                    "upgrade and train both"
                )
            version = common[-1]
        custom = None
        if params.custom_id:
            custom = self.training.engine_model(rows[0][0], version, params.customization_weight)
            if custom is None:
                raise BadRequest(NOT_TRAINED)
        acoustic = None
        if am is not None and self.acoustic is not None:
            acoustic = self.acoustic.artifact(am.id, version)
            if acoustic is None:
                raise BadRequest(AM_NOT_TRAINED)
        if version != newest.version:
            warnings.append(OLD_VERSION_WARNING)
        grammar = None
        if params.grammar_name:
            if custom is None:
                raise BadRequest("grammar_name requires language_customization_id")
            grammar = self._grammar(rows[0][0], params.grammar_name, custom.path)
        return Resolved(self.models.catalog.version(version), custom, grammar, warnings, acoustic)

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
