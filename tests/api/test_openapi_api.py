"""`/openapi.json` documents the real API: Watson response shapes, error bodies and request bodies."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer

NO_BODY = {("post", "/v1/unregister_callback"), ("delete", "/v1/recognitions/{job_id}")}  # empty answers
JSON_BODIES = {
    ("post", "/v1/customizations"): "base_model_name",
    ("post", "/v1/customizations/{cid}/words"): "words",
    ("put", "/v1/customizations/{cid}/words/{word}"): "sounds_like",
}


def test_every_operation_documents_its_shapes(fake_server: LiveServer) -> None:
    doc = httpx.get(f"{fake_server.url}/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # validation errors are Watson 400s
    assert set(schemas["ErrorBody"]["required"]) == {"error", "code", "code_description"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert "422" not in responses, (method, path)
            ok = next(code for code in responses if code.startswith("2"))
            if ok == "204" or path.endswith(("/locales", "/content")):  # no body; Azure's plain string lists
                continue
            if (method, path) not in NO_BODY:
                assert "$ref" in str(responses[ok]["content"]["application/json"]["schema"]), (method, path)
            azure = path.startswith(("/speechtotext/", "/speech/"))
            if azure or path.startswith("/v1/"):
                error = responses["400"]["content"]["application/json"]["schema"]["$ref"]
                assert error.endswith("/AzureError" if azure else "/ErrorBody"), (method, path)
    for (method, path), field in JSON_BODIES.items():
        body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert field in body["properties"], (method, path)
    recognize = doc["paths"]["/v1/recognize"]["post"]
    assert {"audio/wav", "audio/l16", "multipart/form-data"} <= set(recognize["requestBody"]["content"])
    assert {"model", "timestamps", "keywords"} <= {p["name"] for p in recognize["parameters"]}
    results = schemas["SpeechRecognitionResult"]["properties"]
    assert {"final", "alternatives", "keywords_result", "word_alternatives"} <= set(results)
