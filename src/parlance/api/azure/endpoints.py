"""Azure endpoints: create with a base or custom model, list, get, PATCH to switch model, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from parlance.api.azure import views
from parlance.api.azure.bodies import EndpointCreate, EndpointUpdate
from parlance.api.azure.context import AzureDep, deleted
from parlance.api.azure.paging import Skip, Top, page
from parlance.api.azure.schemas import ERRORS, EndpointEntity, Endpoints

router = APIRouter(tags=["azure: endpoints"], responses=ERRORS)


@router.get("/endpoints", response_model=Endpoints, response_model_exclude_unset=True)
def list_endpoints(az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    rows, total = az.svc.endpoints.list(az.owner, skip, top)
    return page(rows, total, skip, top, az.url("endpoints"), lambda r: views.endpoint(az, r))


@router.get("/endpoints/locales")
def endpoint_locales(az: AzureDep) -> list[str]:
    return sorted({az.svc.catalog.newest(b).language for b in az.svc.catalog.base_models()})


@router.get("/endpoints/{endpoint_id}", response_model=EndpointEntity, response_model_exclude_unset=True)
def get_endpoint(endpoint_id: str, az: AzureDep) -> dict[str, Any]:
    return views.endpoint(az, az.svc.endpoints.get(az.owner, endpoint_id))


@router.post("/endpoints", status_code=201, response_model=EndpointEntity, response_model_exclude_unset=True)
def create_endpoint(body: EndpointCreate, az: AzureDep, response: Response) -> dict[str, Any]:
    row = az.svc.endpoints.create(
        az.owner,
        display_name=body.displayName,
        locale=body.locale,
        model=views.model_ref(az, body.model.model_dump()),
        description=body.description,
        custom_properties=body.customProperties,
    )
    response.headers["Location"] = az.url("endpoints", row.id)
    return views.endpoint(az, row)


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointEntity, response_model_exclude_unset=True)
def update_endpoint(endpoint_id: str, body: EndpointUpdate, az: AzureDep) -> dict[str, Any]:
    row = az.svc.endpoints.update(
        az.owner,
        endpoint_id,
        model=views.model_ref(az, body.model.model_dump()) if body.model else None,
        display_name=body.displayName,
        description=body.description,
        custom_properties=body.customProperties,
    )
    return views.endpoint(az, row)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, az: AzureDep) -> Response:
    return deleted(lambda: az.svc.endpoints.delete(az.owner, endpoint_id))
