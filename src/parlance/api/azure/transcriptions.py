"""Azure batch transcriptions: create from content URLs or a container folder, list, get, PATCH, delete, result
files (and their content, at a URL of ours that authenticates like the rest), supported locales."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field

from parlance.api.azure import views
from parlance.api.azure.bodies import EntityReference, _Body
from parlance.api.azure.context import Azure, AzureDep, deleted
from parlance.api.azure.paging import Skip, Top, page, sliced
from parlance.api.azure.schemas import ERRORS, FileEntity, Files, TranscriptionEntity, Transcriptions
from parlance.errors import NotFound
from parlance.services.endpoints import ModelRef
from parlance.services.transcriptions import ResultFile, TranscriptionRefused, TranscriptionSpec
from parlance.store.orm import Transcription

router = APIRouter(tags=["azure: transcriptions"], responses=ERRORS)


class TranscriptionProperties(_Body):
    wordLevelTimestampsEnabled: bool = False
    displayFormWordLevelTimestampsEnabled: bool = False  # accepted; `displayWords` are not produced
    profanityFilterMode: Literal["None", "Removed", "Tags", "Masked"] = "Masked"
    # accepted: punctuation follows the model (Watson's pipeline has no dictated punctuation)
    punctuationMode: Literal["None", "Dictated", "Automatic", "DictatedAndAutomatic"] = "DictatedAndAutomatic"
    channels: list[int] = Field(default_factory=lambda: [0, 1], max_length=2)
    timeToLive: timedelta | None = None  # v3.x: ISO-8601 duration
    timeToLiveHours: int | None = Field(None, ge=0, le=31 * 24)  # 2024-11-15's spelling
    destinationContainerUrl: str | None = None


class TranscriptionCreate(_Body):
    displayName: str = Field(min_length=1, max_length=256)
    locale: str = Field(min_length=2, max_length=16)
    description: str = Field("", max_length=1024)
    model: EntityReference | None = None
    contentUrls: list[str] | None = None
    contentContainerUrl: str | None = Field(None, max_length=4096)
    dataset: EntityReference | None = None
    properties: TranscriptionProperties = Field(default_factory=TranscriptionProperties)
    customProperties: dict[str, str] = Field(default_factory=dict, max_length=10)


class TranscriptionUpdate(_Body):
    displayName: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=1024)
    customProperties: dict[str, str] | None = Field(None, max_length=10)


def transcription(az: Azure, row: Transcription) -> dict[str, Any]:
    properties = dict(row.properties)
    if row.error:
        properties["error"] = row.error
    ref = ModelRef(row.model_kind, row.model_id)  # type: ignore[arg-type]
    return {
        "self": az.url("transcriptions", row.id),
        "model": {"self": views.model_url(az, ref)},
        "links": {"files": az.url("transcriptions", row.id, "files")},
        "properties": properties,
        "lastActionDateTime": views.timestamp(row.updated),
        "status": row.status,
        "createdDateTime": views.timestamp(row.created),
        "locale": row.locale,
        "displayName": row.display_name,
        "description": row.description,
        "customProperties": row.custom_properties,
    }


def result_file(az: Azure, transcription_id: str, item: ResultFile) -> dict[str, Any]:
    url = az.url("transcriptions", transcription_id, "files", item.id)
    return {
        "self": url,
        "name": item.name,
        "kind": item.kind,
        "properties": {"size": item.size},
        "createdDateTime": views.timestamp(item.created),
        "links": {"contentUrl": f"{url}/content"},
    }


def _spec(az: Azure, body: TranscriptionCreate) -> TranscriptionSpec:
    if body.dataset is not None:
        if body.contentUrls or body.contentContainerUrl:
            raise TranscriptionRefused(
                "Give exactly one source of audio: contentUrls, contentContainerUrl or dataset.",
                "OnlyOneOfUrlsOrContainerOrDataset",
            )
        raise TranscriptionRefused("Transcribing a dataset is not supported; use contentUrls.", "InvalidDataset")
    props = body.properties
    if props.destinationContainerUrl:
        raise TranscriptionRefused(
            "destinationContainerUrl is not supported: results are kept here (see links.files).",
            "InvalidParameterValue",
        )
    ttl = props.timeToLive
    if ttl is None and props.timeToLiveHours is not None:
        ttl = timedelta(hours=props.timeToLiveHours)
    return TranscriptionSpec(
        display_name=body.displayName,
        locale=body.locale,
        model=views.model_ref(az, body.model.model_dump()) if body.model else None,
        content_urls=body.contentUrls,
        container_url=body.contentContainerUrl,
        description=body.description,
        custom_properties=body.customProperties,
        word_timestamps=props.wordLevelTimestampsEnabled,
        display_word_timestamps=props.displayFormWordLevelTimestampsEnabled,
        profanity=props.profanityFilterMode,
        punctuation=props.punctuationMode,
        channels=tuple(props.channels),
        time_to_live=ttl,
    )


@router.get("/transcriptions", response_model=Transcriptions, response_model_exclude_unset=True)
def list_transcriptions(az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    rows, total = az.svc.transcriptions.list(az.owner, skip, top)
    return page(rows, total, skip, top, az.url("transcriptions"), lambda r: transcription(az, r))


@router.get("/transcriptions/locales")
def transcription_locales(az: AzureDep) -> list[str]:
    return sorted({az.svc.catalog.newest(b).language for b in az.svc.catalog.base_models()})


@router.post("/transcriptions", status_code=201, response_model=TranscriptionEntity, response_model_exclude_unset=True)
def create_transcription(body: TranscriptionCreate, az: AzureDep, response: Response) -> dict[str, Any]:
    row = az.svc.transcriptions.create(az.owner, _spec(az, body))
    response.headers["Location"] = az.url("transcriptions", row.id)
    return transcription(az, row)


@router.get("/transcriptions/{transcription_id}", response_model=TranscriptionEntity, response_model_exclude_unset=True)
def get_transcription(transcription_id: str, az: AzureDep) -> dict[str, Any]:
    return transcription(az, az.svc.transcriptions.get(az.owner, transcription_id))


@router.patch(
    "/transcriptions/{transcription_id}", response_model=TranscriptionEntity, response_model_exclude_unset=True
)
def update_transcription(transcription_id: str, body: TranscriptionUpdate, az: AzureDep) -> dict[str, Any]:
    row = az.svc.transcriptions.update(
        az.owner,
        transcription_id,
        display_name=body.displayName,
        description=body.description,
        custom_properties=body.customProperties,
    )
    return transcription(az, row)


@router.delete("/transcriptions/{transcription_id}", status_code=204)
def delete_transcription(transcription_id: str, az: AzureDep) -> Response:
    return deleted(lambda: az.svc.transcriptions.delete(az.owner, transcription_id))


@router.get("/transcriptions/{transcription_id}/files", response_model=Files, response_model_exclude_unset=True)
def list_files(transcription_id: str, az: AzureDep, skip: Skip = 0, top: Top = 100) -> dict[str, Any]:
    items, total = sliced(az.svc.transcriptions.files(az.owner, transcription_id), skip, top)
    url = az.url("transcriptions", transcription_id, "files")
    return page(items, total, skip, top, url, lambda f: result_file(az, transcription_id, f))


@router.get(
    "/transcriptions/{transcription_id}/files/{file_id}", response_model=FileEntity, response_model_exclude_unset=True
)
def get_file(transcription_id: str, file_id: str, az: AzureDep) -> dict[str, Any]:
    return result_file(az, transcription_id, az.svc.transcriptions.file(az.owner, transcription_id, file_id))


@router.get("/transcriptions/{transcription_id}/files/{file_id}/content")
def file_content(transcription_id: str, file_id: str, az: AzureDep) -> Response:
    item = az.svc.transcriptions.file(az.owner, transcription_id, file_id)
    try:
        data = item.path.read_bytes()  # small JSON files; read whole so a concurrent delete gives a clean 404
    except FileNotFoundError:
        raise NotFound(f"File {file_id} of transcription {transcription_id} does not exist") from None
    return Response(data, media_type="application/json")
