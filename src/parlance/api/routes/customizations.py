"""`/v1/customizations`: custom language models, their corpora and words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from parlance.api import multipart
from parlance.api.deps import OwnerDep, ServicesDep, read_body
from parlance.api.openapi import ERRORS, raw_body
from parlance.api.openapi import json_body as json_request
from parlance.api.schemas import (
    Corpora,
    Corpus,
    CreateLanguageModel,
    CustomizationId,
    CustomWords,
    Empty,
    Grammar,
    Grammars,
    LanguageModel,
    LanguageModels,
    TrainingResponse,
    Word,
    WordDefinition,
    Words,
)
from parlance.errors import BadRequest
from parlance.jsonsafe import loads_limited

router = APIRouter(prefix="/v1/customizations", tags=["customizations"], responses=ERRORS)
CORPUS_BODY = raw_body("text/plain", multipart={"corpus_file": {"type": "string", "format": "binary"}})
GRAMMAR_BODY = raw_body("application/srgs", "application/srgs+xml")
MAX_JSON = 16 * 1024 * 1024


async def json_body(request: Request) -> Any:
    return loads_limited(await read_body(request, MAX_JSON) or b"{}")


@router.post("", status_code=201, response_model=CustomizationId, openapi_extra=json_request(CreateLanguageModel))
async def create(request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, str]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return {"customization_id": svc.customizations.create(owner, body)}


@router.get("", response_model=LanguageModels, response_model_exclude_unset=True)
def list_models(svc: ServicesDep, owner: OwnerDep, language: str | None = None) -> dict[str, Any]:
    return svc.customizations.list(owner, language)


@router.get("/{cid}", response_model=LanguageModel, response_model_exclude_unset=True)
def get_model(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.customizations.get(owner, cid)


@router.delete("/{cid}", response_model=Empty)
def delete_model(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.customizations.delete(owner, cid)
    return {}


@router.post("/{cid}/train", response_model=TrainingResponse, response_model_exclude_unset=True)
def train(
    cid: str,
    svc: ServicesDep,
    owner: OwnerDep,
    word_type_to_add: str = "all",
    customization_weight: Annotated[float | None, Query()] = None,
    strict: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    params = {
        "word_type_to_add": word_type_to_add,
        "customization_weight": customization_weight,
        "strict": strict,
        "force": force,
    }
    return svc.customizations.train(owner, cid, params)


@router.post("/{cid}/reset", response_model=Empty)
def reset(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.customizations.reset(owner, cid)
    return {}


# -- corpora -------------------------------------------------------------------------------
@router.post("/{cid}/corpora/{name}", status_code=201, response_model=Empty, openapi_extra=CORPUS_BODY)
async def add_corpus(
    cid: str, name: str, request: Request, svc: ServicesDep, owner: OwnerDep, allow_overwrite: bool = False
) -> dict[str, Any]:
    data = await read_body(request, svc.settings.max_body_bytes)
    content_type = request.headers.get("content-type") or ""
    if content_type.lower().startswith("multipart/form-data"):
        files = multipart.parse(data, content_type).get("corpus_file")
        if not files:
            raise BadRequest("The multipart request needs a 'corpus_file' part")
        data = files[0][0]
    svc.corpora.add(owner, cid, name, data, allow_overwrite)
    return {}


@router.get("/{cid}/corpora", response_model=Corpora, response_model_exclude_unset=True)
def list_corpora(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.corpora.list(owner, cid)


@router.get("/{cid}/corpora/{name}", response_model=Corpus, response_model_exclude_unset=True)
def get_corpus(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.corpora.get(owner, cid, name)


@router.delete("/{cid}/corpora/{name}", response_model=Empty)
def delete_corpus(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.corpora.delete(owner, cid, name)
    return {}


# -- words ---------------------------------------------------------------------------------
@router.post("/{cid}/words", status_code=201, response_model=Empty, openapi_extra=json_request(CustomWords))
async def add_words(cid: str, request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.words.add_many(owner, cid, await json_body(request))
    return {}


@router.put("/{cid}/words/{word}", status_code=201, response_model=Empty, openapi_extra=json_request(WordDefinition))
async def add_word(cid: str, word: str, request: Request, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.words.add_one(owner, cid, word, await json_body(request))
    return {}


@router.get("/{cid}/words", response_model=Words, response_model_exclude_unset=True)
def list_words(
    cid: str, svc: ServicesDep, owner: OwnerDep, word_type: str = "all", sort: str = "alphabetical"
) -> dict[str, Any]:
    return svc.words.list(owner, cid, word_type, sort)


@router.get("/{cid}/words/{word}", response_model=Word, response_model_exclude_unset=True)
def get_word(cid: str, word: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.words.get(owner, cid, word)


@router.delete("/{cid}/words/{word}", response_model=Empty)
def delete_word(cid: str, word: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.words.delete(owner, cid, word)
    return {}


@router.post("/{cid}/upgrade_model", response_model=Empty)
def upgrade_model(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.customizations.upgrade(owner, cid)
    return {}


# -- grammars ------------------------------------------------------------------------------
@router.post("/{cid}/grammars/{name}", status_code=201, response_model=Empty, openapi_extra=GRAMMAR_BODY)
async def add_grammar(
    cid: str, name: str, request: Request, svc: ServicesDep, owner: OwnerDep, allow_overwrite: bool = False
) -> dict[str, Any]:
    data = await read_body(request, svc.settings.max_body_bytes)
    media_type = request.headers.get("content-type") or ""
    svc.grammars.add(owner, cid, name, data, allow_overwrite, media_type)
    return {}


@router.get("/{cid}/grammars", response_model=Grammars, response_model_exclude_unset=True)
def list_grammars(cid: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.grammars.list(owner, cid)


@router.get("/{cid}/grammars/{name}", response_model=Grammar, response_model_exclude_unset=True)
def get_grammar(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    return svc.grammars.get(owner, cid, name)


@router.delete("/{cid}/grammars/{name}", response_model=Empty)
def delete_grammar(cid: str, name: str, svc: ServicesDep, owner: OwnerDep) -> dict[str, Any]:
    svc.grammars.delete(owner, cid, name)
    return {}
