"""Azure model views: base models (each installed base-model version) and custom models, with their
lifecycle dates in `properties.deprecationDates`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from parlance.api.azure import views
from parlance.api.azure.bodies import ModelCreate
from parlance.api.azure.context import AzureDep, deleted
from parlance.api.azure.paging import Skip, Top, page, sliced
from parlance.api.azure.schemas import ERRORS, BaseModelEntity, BaseModels, CustomModelEntity, CustomModels
from parlance.errors import NotFound
from parlance.store.orm import CustomModel

router = APIRouter(tags=["azure: models"], responses=ERRORS)


@router.get("/models/base", response_model=BaseModels, response_model_exclude_unset=True)
def list_base_models(az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    versions = [v for b in az.svc.catalog.base_models() for v in az.svc.catalog.versions(b)]
    versions.sort(key=lambda v: (v.created, v.version))
    items, total = sliced(versions, skip, top)
    return page(items, total, skip, top, az.url("models", "base"), lambda v: views.base_model(az, v))


@router.get("/models/base/{model_id}", response_model=BaseModelEntity, response_model_exclude_unset=True)
def get_base_model(model_id: str, az: AzureDep) -> dict[str, Any]:
    return views.base_model(az, az.svc.catalog.version(model_id))


@router.get("/models/locales")
def list_locales(az: AzureDep) -> list[str]:
    return sorted({az.svc.catalog.newest(b).language for b in az.svc.catalog.base_models()})


def _custom(az: AzureDep, row: CustomModel) -> dict[str, Any]:
    return views.custom_model(az, row, az.svc.azure_models.dataset_ids(row.id))


@router.get("/models", response_model=CustomModels, response_model_exclude_unset=True)
def list_custom_models(az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    rows, total = az.svc.azure_models.rows(az.owner, skip, top)
    return page(rows, total, skip, top, az.url("models"), lambda r: _custom(az, r))


@router.get("/models/{model_id}", response_model=CustomModelEntity, response_model_exclude_unset=True)
def get_custom_model(model_id: str, az: AzureDep) -> dict[str, Any]:
    return _custom(az, _row(az, model_id))


@router.post("/models", status_code=201, response_model=CustomModelEntity, response_model_exclude_unset=True)
def create_custom_model(body: ModelCreate, az: AzureDep, response: Response) -> dict[str, Any]:
    cid = az.svc.azure_models.create(
        az.owner,
        display_name=body.displayName,
        locale=body.locale,
        base=views.model_ref(az, body.baseModel.model_dump(), "baseModel") if body.baseModel else None,
        dataset_ids=[_dataset_id(d.self) for d in body.datasets],
        description=body.description,
        weight_percent=body.properties.customModelWeightPercent,
    )
    response.headers["Location"] = az.url("models", cid)
    return _custom(az, _row(az, cid))


@router.delete("/models/{model_id}", status_code=204)
def delete_custom_model(model_id: str, az: AzureDep) -> Response:
    return deleted(lambda: az.svc.customizations.delete(az.owner, model_id))


def _row(az: AzureDep, model_id: str) -> CustomModel:
    return az.svc.azure_models.row(az.owner, model_id)


def _dataset_id(url: str) -> str:
    tail = url.split("?", 1)[0].rstrip("/")
    if "/datasets/" not in tail:
        raise NotFound(f"The value of datasets.self does not reference a dataset: {url}")
    return tail.rsplit("/datasets/", 1)[1]
