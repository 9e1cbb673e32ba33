"""HTTP-level hardening over real HTTP: hostile JSON, mistyped inputs, tokens, and the headers Watson
clients expect (Allow, Retry-After, X-Global-Transaction-Id), on the fake engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import numpy as np
import pytest

from parlance.api.app import create_app
from parlance.engines.base import DecodeOptions, ModelVersion
from parlance.engines.registry import EngineRegistry
from parlance.services.container import Services
from parlance.settings import Settings
from tests.api.test_recognize_api import CLIP, assert_watson_error
from tests.conftest import LiveServer, serving
from tests.fakes import FakeEngine, fake_version

DEEP = "[" * 100_000


def auth(server: LiveServer) -> tuple[str, str]:
    return ("apikey", server.apikey)


def new_model(server: LiveServer) -> str:
    r = httpx.post(
        f"{server.url}/v1/customizations",
        json={"name": "m", "base_model_name": "en-US_BroadbandModel"},
        auth=auth(server),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["customization_id"])


def test_deeply_nested_json_bodies_are_400(fake_server: LiveServer) -> None:
    cid = new_model(fake_server)
    for method, path in (
        ("POST", "/v1/customizations"),
        ("POST", f"/v1/customizations/{cid}/words"),
        ("PUT", f"/v1/customizations/{cid}/words/deep"),
    ):
        r = httpx.request(method, fake_server.url + path, content=DEEP, auth=auth(fake_server))
        assert_watson_error(r, 400)
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        files={"metadata": (None, DEEP), "upload": ("a.wav", CLIP.read_bytes(), "audio/wav")},
        auth=auth(fake_server),
    )
    assert "metadata" in assert_watson_error(r, 400)["error"]


def test_json_nesting_limit_is_64_levels(fake_server: LiveServer) -> None:
    cid = new_model(fake_server)
    nested = '{"words": [{"word": "w", "x": ' + "[" * 63 + "]" * 63 + "}]}"
    r = httpx.post(f"{fake_server.url}/v1/customizations/{cid}/words", content=nested, auth=auth(fake_server))
    assert "64" in assert_watson_error(r, 400)["error"]


@pytest.mark.parametrize(
    "metadata",
    [
        '{"part_content_type": 5}',
        '{"part_content_type": ["audio/wav"]}',
        '{"part_content_type": {"a": 1}}',
        '{"data_parts_count": "two"}',
        '{"model": 5}',
        '{"keywords": [1, 2], "keywords_threshold": 0.5}',
    ],
)
def test_mistyped_multipart_metadata_is_400(fake_server: LiveServer, metadata: str) -> None:
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        files={"metadata": (None, metadata), "upload": ("a.wav", CLIP.read_bytes(), "audio/wav")},
        auth=auth(fake_server),
    )
    assert_watson_error(r, 400)


@pytest.mark.parametrize("name", ["callback_url", "events", "user_token", "results_ttl"])
def test_mistyped_job_parameters_in_metadata_are_400(fake_server: LiveServer, name: str) -> None:
    r = httpx.post(
        f"{fake_server.url}/v1/recognitions",
        files={"metadata": (None, f'{{"{name}": 5}}'), "upload": ("a.wav", CLIP.read_bytes(), "audio/wav")},
        auth=auth(fake_server),
    )
    assert name in assert_watson_error(r, 400)["error"]


def test_signed_token_without_subject_is_401(fake_server: LiveServer) -> None:
    secret = (fake_server.services.settings.data_dir / "token-secret").read_text().strip()
    now = int(time.time())
    for claims in ({"iat": now, "exp": now + 60}, {"sub": 42, "iat": now, "exp": now + 60}):
        token = jwt.encode(claims, secret, algorithm="HS256")
        r = httpx.get(f"{fake_server.url}/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert_watson_error(r, 401)


def test_405_names_the_allowed_methods(fake_server: LiveServer) -> None:
    r = httpx.delete(f"{fake_server.url}/v1/models", auth=auth(fake_server))
    assert_watson_error(r, 405)
    assert r.headers["Allow"] == "GET"
    r = httpx.put(f"{fake_server.url}/v1/recognize", auth=auth(fake_server))
    assert_watson_error(r, 405)
    assert r.headers["Allow"] == "POST"


def test_non_audio_content_type_is_415_before_the_size_check(fake_server: LiveServer) -> None:
    fake_server.services.settings.max_body_bytes = 1000
    for path in ("/v1/recognize", "/v1/recognitions"):
        for ctype in ("text/plain", "application/json", "image/png"):
            r = httpx.post(
                fake_server.url + path, content=b"x" * 5000, headers={"Content-Type": ctype}, auth=auth(fake_server)
            )
            assert ctype in assert_watson_error(r, 415)["error"]
        r = httpx.post(
            fake_server.url + path, content=b"x" * 5000, headers={"Content-Type": "audio/wav"}, auth=auth(fake_server)
        )
        assert_watson_error(r, 413)  # audio over the limit is still refused by size


def test_every_response_has_a_fresh_transaction_id(tmp_path: Path) -> None:
    services = _services(tmp_path)
    key = services.auth.create_key()
    app = create_app(services.settings, services)

    def boom() -> None:
        raise RuntimeError("a defect")

    app.add_api_route("/boom", boom)
    with serving(services, app) as url:
        responses = [
            httpx.get(f"{url}/v1/models", auth=("apikey", key.apikey)),  # 200
            httpx.get(f"{url}/v1/models"),  # 401
            httpx.get(f"{url}/v1/nothing-here", auth=("apikey", key.apikey)),  # 404
            httpx.delete(f"{url}/v1/models", auth=("apikey", key.apikey)),  # 405
            httpx.get(f"{url}/boom"),  # 500, rendered outside the middleware stack
            httpx.get(f"{url}/health"),
        ]
    assert [r.status_code for r in responses] == [200, 401, 404, 405, 500, 200]
    ids = [r.headers.get("X-Global-Transaction-Id") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids), ids


# -- 503 when every engine worker and queue slot is taken ----------------------------------------
class _Held:
    """A loaded model whose decode waits until the test lets it go."""

    def __init__(self, started: threading.Event, release: threading.Event) -> None:
        self.started, self.release = started, release

    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list:  # type: ignore[type-arg]
        self.started.set()
        self.release.wait(10)
        return []


class HeldEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__("held", "previous")
        self.started, self.release = threading.Event(), threading.Event()

    def load(self, version: ModelVersion) -> _Held:  # type: ignore[override]
        return _Held(self.started, self.release)


def _services(tmp_path: Path, engine: FakeEngine | None = None, **settings: int) -> Services:
    registry = EngineRegistry()
    engine = engine or FakeEngine("fake-previous", "previous")
    registry.register(engine)
    return Services.build(
        Settings(data_dir=tmp_path / "data", **settings),
        registry=registry,
        builtins=[fake_version("en-US_BroadbandModel", engine.name)],
    )


@pytest.fixture
def held() -> Iterator[HeldEngine]:
    engine = HeldEngine()
    yield engine
    engine.release.set()


def test_busy_503_carries_retry_after(tmp_path: Path, held: HeldEngine) -> None:
    services = _services(tmp_path, held, engine_workers=1, engine_queue=0)
    key = services.auth.create_key()
    with serving(services) as url:

        def post() -> httpx.Response:
            return httpx.post(
                f"{url}/v1/recognize",
                content=CLIP.read_bytes(),
                headers={"Content-Type": "audio/wav"},
                auth=("apikey", key.apikey),
                timeout=30,
            )

        first: list[httpx.Response] = []
        holder = threading.Thread(target=lambda: first.append(post()))
        holder.start()
        assert held.started.wait(10)
        busy = post()
        held.release.set()
        holder.join(10)
    assert_watson_error(busy, 503)
    assert int(busy.headers["Retry-After"]) >= 1
    assert first[0].status_code == 200
