"""Schemathesis fuzzes every operation of `/openapi.json` against a live server (fake engine, an API key):
no 5xx, and every response matches the status codes, content types and schemas the document declares.

Random ids only ever reach 404s, so the server is seeded with a trained custom model (corpus, words,
a word with an error, a grammar) and a finished job, and most generated requests are pointed at them;
recognition requests get real audio half of the time. Destructive operations keep their random ids
so that the seeded data stays for the operations fuzzed after them.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from parlance.audio.decode import ACCEPTED_TYPES
from tests.api.test_recognize_api import CLIP
from tests.conftest import fake_services, serving

EXAMPLES_PER_OPERATION = 25  # bounded for CI
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
GRAMMAR = b"#ABNF 1.0;\nroot $command;\npublic $command = yes | no | cancel;\n"
DESTRUCTIVE = ("DELETE", "/reset", "/upgrade_model", "/train")


@dataclass
class Seeded:
    url: str
    headers: dict[str, str]
    ids: dict[str, str]  # path parameter -> an existing resource


def _wait(client: httpx.Client, path: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = client.get(path).json()
        if done(body):
            return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"{path} stayed {body}")


def seed(url: str, headers: dict[str, str]) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        cid = c.post("/v1/customizations", json={"name": "seed", "base_model_name": "en-US_BroadbandModel"}).json()
        cid = cid["customization_id"]
        corpus = b"the zzquux rate and the zzquux spread"
        c.post(f"/v1/customizations/{cid}/corpora/c1", content=corpus).raise_for_status()
        _wait(c, f"/v1/customizations/{cid}", lambda m: m["status"] == "ready")
        words = [{"word": "EBITDA", "sounds_like": ["e bit dah"]}, {"word": "bad", "sounds_like": ["75 dollars"]}]
        c.post(f"/v1/customizations/{cid}/words", json={"words": words}).raise_for_status()
        headers_srgs = {"Content-Type": "application/srgs"}
        c.post(f"/v1/customizations/{cid}/grammars/g1", content=GRAMMAR, headers=headers_srgs).raise_for_status()
        _wait(c, f"/v1/customizations/{cid}", lambda m: m["status"] == "ready")
        c.post(f"/v1/customizations/{cid}/train", params={"strict": "false"}).raise_for_status()
        _wait(c, f"/v1/customizations/{cid}", lambda m: m["status"] == "available")
        job = c.post("/v1/recognitions", content=CLIP.read_bytes(), headers={"Content-Type": "audio/wav"}).json()
        _wait(c, f"/v1/recognitions/{job['id']}", lambda j: j["status"] in ("completed", "failed"))
    return {"cid": cid, "job_id": job["id"], "word": "EBITDA", "name": "c1"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    services = fake_services(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    key = services.auth.create_key(instance_name="fuzz")
    basic = base64.b64encode(f"apikey:{key.apikey}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    with serving(services) as url:
        yield Seeded(url, headers, seed(url, headers))


@pytest.fixture(scope="module")
def api_schema(seeded: Seeded) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{seeded.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
# audio and grammars are raw bytes on the wire, like application/octet-stream
RAW_TYPES = [t for t in ACCEPTED_TYPES if t != "application/octet-stream"] + [
    "application/srgs",
    "application/srgs+xml",
]
schemathesis.serializer.alias(RAW_TYPES, "application/octet-stream")


def aim(case: schemathesis.Case, seeded: Seeded) -> None:
    """Point most cases at the seeded resources (a choice derived from the case, so runs repeat)."""
    rng = random.Random(repr((case.method, case.path, case.path_parameters, case.query)))
    operation = f"{case.method} {case.path}"
    if case.path_parameters and not any(d in operation for d in DESTRUCTIVE) and rng.random() < 0.8:
        for name in case.path_parameters:
            if name in seeded.ids:
                case.path_parameters[name] = seeded.ids[name]
        if "grammars" in case.path and "name" in case.path_parameters:
            case.path_parameters["name"] = "g1"
    if case.path in ("/v1/recognize", "/v1/recognitions") and case.media_type != "multipart/form-data":
        if rng.random() < 0.5:
            case.body, case.media_type = CLIP.read_bytes(), "audio/wav"


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run, so a CI failure reproduces locally
)
def test_every_operation(case: schemathesis.Case, seeded: Seeded) -> None:
    aim(case, seeded)
    case.call_and_validate(base_url=seeded.url, headers=seeded.headers, checks=CHECKS)
