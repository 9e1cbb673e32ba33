"""Azure datasets (kind Language): created from a `contentUrl` or uploaded (multipart), listed, deleted."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile

from parlance.api.azure import views
from parlance.api.azure.bodies import DatasetCreate
from parlance.api.azure.context import AzureDep
from parlance.api.azure.paging import Skip, Top, page
from parlance.api.azure.schemas import ERRORS, DatasetEntity, Datasets
from parlance.errors import BadRequest, PayloadTooLarge
from parlance.services import content
from parlance.services.datasets import KINDS, MAX_BYTES

router = APIRouter(tags=["azure: datasets"], responses=ERRORS)


@router.get("/datasets", response_model=Datasets, response_model_exclude_unset=True)
def list_datasets(az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    rows, total = az.svc.datasets.list(az.owner, skip, top)
    return page(rows, total, skip, top, az.url("datasets"), lambda r: views.dataset(az, r))


@router.get("/datasets/locales")
def dataset_locales(az: AzureDep) -> dict[str, list[str]]:
    locales = sorted({az.svc.catalog.newest(b).language for b in az.svc.catalog.base_models()})
    return {kind: locales for kind in KINDS}


@router.get("/datasets/{dataset_id}", response_model=DatasetEntity, response_model_exclude_unset=True)
def get_dataset(dataset_id: str, az: AzureDep) -> dict[str, Any]:
    return views.dataset(az, az.svc.datasets.get(az.owner, dataset_id))


@router.post("/datasets", status_code=201, response_model=DatasetEntity, response_model_exclude_unset=True)
def create_dataset(body: DatasetCreate, az: AzureDep, response: Response) -> dict[str, Any]:
    data = content.fetch(body.contentUrl, az.svc.settings, MAX_BYTES)
    row = az.svc.datasets.create(
        az.owner,
        kind=body.kind,
        display_name=body.displayName,
        locale=body.locale,
        data=data,
        description=body.description,
        custom_properties=body.customProperties,
    )
    response.headers["Location"] = az.url("datasets", row.id)
    return views.dataset(az, row)


@router.post("/datasets/upload", status_code=201, response_model=DatasetEntity, response_model_exclude_unset=True)
async def upload_dataset(
    az: AzureDep,
    response: Response,
    displayName: Annotated[str, Form()],  # noqa: N803 - Azure's form field names
    locale: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    data: Annotated[UploadFile, File()],
    description: Annotated[str, Form()] = "",
    customProperties: Annotated[str, Form()] = "{}",  # noqa: N803
) -> dict[str, Any]:
    raw = await data.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"The dataset is larger than {MAX_BYTES} bytes")
    try:
        props = json.loads(customProperties)
    except json.JSONDecodeError:
        raise BadRequest("customProperties must be a JSON object of strings") from None
    if not isinstance(props, dict) or not all(isinstance(v, str) for v in props.values()):
        raise BadRequest("customProperties must be a JSON object of strings")
    row = az.svc.datasets.create(
        az.owner,
        kind=kind,
        display_name=displayName,
        locale=locale,
        data=raw,
        description=description,
        custom_properties=props,
    )
    response.headers["Location"] = az.url("datasets", row.id)
    return views.dataset(az, row)


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: str, az: AzureDep) -> Response:
    az.svc.datasets.delete(az.owner, dataset_id)
    return Response(status_code=204)
