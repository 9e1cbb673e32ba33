"""Custom language model API through the ibm-watson SDK and plain HTTP, on the fake engine."""

from __future__ import annotations

import concurrent.futures as cf
import json
import time

import httpx
import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from tests.api.test_recognize_api import CLIP, assert_watson_error, sdk
from tests.conftest import LiveServer, wait_status

PG = "en-US_BroadbandModel"
NG = "en-US_Multimedia"


def api_error(fn, status: int) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as err:
        fn()
    assert err.value.status_code == status, err.value.message
    return str(err.value.message)


def test_full_workflow_previous_generation(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("finance", PG, description="fin").get_result()["customization_id"]
    model = stt.get_language_model(cid).get_result()
    assert model["status"] == "pending" and model["versions"] == [f"{PG}.v2026-01-01"]
    assert model["owner"] == fake_server.instance_id and model["dialect"] == "en-US"

    stt.add_corpus(cid, "c1", b"the zzquux rate and the zzquux spread zzfoo").get_result()
    corpus = stt.get_corpus(cid, "c1").get_result()
    assert corpus["status"] in ("being_processed", "analyzed")
    wait_status(stt, cid, {"ready"})
    corpus = stt.get_corpus(cid, "c1").get_result()
    assert corpus == {"name": "c1", "total_words": 8, "out_of_vocabulary_words": 2, "status": "analyzed"}
    words = stt.list_words(cid, word_type="corpora", sort="count").get_result()["words"]
    assert [(w["word"], w["count"], w["source"]) for w in words] == [("zzquux", 2, ["c1"]), ("zzfoo", 1, ["c1"])]

    stt.add_words(cid, [{"word": "EBITDA", "sounds_like": ["e bit dah"], "display_as": "EBITDA"}])
    wait_status(stt, cid, {"ready"})
    stt.add_word(cid, "SOFR", sounds_like=["sofer"])
    word = stt.get_word(cid, "SOFR").get_result()
    assert word == {"word": "SOFR", "sounds_like": ["sofer"], "display_as": "SOFR", "count": 1, "source": ["user"]}
    assert [w["word"] for w in stt.list_words(cid, word_type="user").get_result()["words"]] == ["EBITDA", "SOFR"]

    stt.train_language_model(cid, customization_weight=0.5)
    model = wait_status(stt, cid, {"available", "failed"})
    assert model["status"] == "available" and model["progress"] == 100
    msg = api_error(lambda: stt.train_language_model(cid), 400)
    assert "No input data modified since last training" in msg

    result = stt.recognize(
        CLIP.read_bytes(), content_type="audio/wav", model=PG, language_customization_id=cid
    ).get_result()
    transcript = result["results"][0]["alternatives"][0]["transcript"]
    assert "EBITDA" in transcript and "zzquux" in transcript

    stt.delete_corpus(cid, "c1")
    assert stt.get_language_model(cid).get_result()["status"] == "ready"
    assert "zzquux" not in {w["word"] for w in stt.list_words(cid).get_result()["words"]}
    stt.reset_language_model(cid)
    assert stt.get_language_model(cid).get_result()["status"] == "pending"
    assert stt.list_words(cid).get_result()["words"] == []
    stt.delete_language_model(cid)
    api_error(lambda: stt.get_language_model(cid), 404)


def test_next_generation_semantics(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("ng", NG).get_result()["customization_id"]
    stt.add_corpus(cid, "c1", b"zzquux is a word and zzquux again")
    wait_status(stt, cid, {"ready"})
    assert stt.get_corpus(cid, "c1").get_result()["out_of_vocabulary_words"] == 0
    assert stt.list_words(cid).get_result()["words"] == []
    stt.add_word(cid, "fintech", sounds_like=["fin tech"])
    assert stt.get_word(cid, "fintech").get_result()["count"] == 1


def test_create_rules(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    assert "256" in api_error(lambda: stt.create_language_model("x" * 257, PG), 400)
    for bad in ("a/b", "a:b", "a=b", "a&b", "a?b", "a\\b"):
        api_error(lambda bad=bad: stt.create_language_model(bad, PG), 400)
    assert "128" in api_error(lambda: stt.create_language_model("d", PG, description="x" * 129), 400)
    assert "dialect" in api_error(lambda: stt.create_language_model("d", PG, dialect="fr-FR"), 400)
    api_error(lambda: stt.create_language_model("d", "xx-XX_Nope"), 400)
    stt.create_language_model("dup", PG, dialect="EN-us")
    api_error(lambda: stt.create_language_model("dup", PG), 409)


def test_models_belong_to_their_instance(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("mine", PG).get_result()["customization_id"]
    other = fake_server.services.auth.create_key(instance_name="other")
    other_stt = SpeechToTextV1(
        authenticator=__import__("ibm_cloud_sdk_core").authenticators.BasicAuthenticator("apikey", other.apikey)
    )
    other_stt.set_service_url(fake_server.url)
    assert other_stt.list_language_models().get_result()["customizations"] == []
    api_error(lambda: other_stt.get_language_model(cid), 404)
    api_error(lambda: other_stt.delete_language_model(cid), 404)
    api_error(lambda: other_stt.add_corpus(cid, "c", b"some text here"), 404)
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        params={"language_customization_id": cid},
        content=CLIP.read_bytes(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", other.apikey),
    )
    assert_watson_error(r, 404)
    assert stt.get_language_model(cid).get_result()["name"] == "mine"


def test_corpus_errors(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("c", PG).get_result()["customization_id"]
    for reserved in ("user", "base_lm", "default_lm"):
        assert "reserved" in api_error(lambda r=reserved: stt.add_corpus(cid, r, b"some words"), 400)
    assert "binary" in api_error(lambda: stt.add_corpus(cid, "bin", bytes(range(256)) * 10), 400)
    assert "UTF-8" in api_error(lambda: stt.add_corpus(cid, "latin", "caf\xe9 cr\xe8me".encode("latin-1")), 400)
    assert "empty" in api_error(lambda: stt.add_corpus(cid, "empty", b"   \n"), 400)
    api_error(lambda: stt.add_corpus(cid, "x" * 129, b"words here"), 400)
    r = httpx.post(
        f"{fake_server.url}/v1/customizations/{cid}/corpora/..%2F..%2Fetc",
        content=b"words",
        auth=("apikey", fake_server.apikey),
    )
    assert r.status_code in (400, 404) and r.json()["code"] == r.status_code
    stt.add_corpus(cid, "c1", b"one two three")
    wait_status(stt, cid, {"ready"})
    assert "allow_overwrite" in api_error(lambda: stt.add_corpus(cid, "c1", b"four five"), 409)
    stt.add_corpus(cid, "c1", b"four five", allow_overwrite=True)
    wait_status(stt, cid, {"ready"})
    assert stt.get_corpus(cid, "c1").get_result()["total_words"] == 2
    api_error(lambda: stt.get_corpus(cid, "nope"), 404)
    api_error(lambda: stt.delete_corpus(cid, "nope"), 404)
    assert stt.list_corpora(cid).get_result()["corpora"][0]["name"] == "c1"
    # nothing of the refused uploads was stored
    assert len(stt.list_corpora(cid).get_result()["corpora"]) == 1


def test_corpus_with_no_words_is_undetermined(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("u", PG).get_result()["customization_id"]
    stt.add_corpus(cid, "punct", b"... !!! ???")
    deadline = time.monotonic() + 20
    while stt.get_corpus(cid, "punct").get_result()["status"] == "being_processed" and time.monotonic() < deadline:
        time.sleep(0.05)
    corpus = stt.get_corpus(cid, "punct").get_result()
    assert corpus["status"] == "undetermined" and "allow_overwrite" in corpus["error"]
    stt.add_words(cid, [{"word": "ok"}])
    wait_status(stt, cid, {"ready"})
    assert "corpus" in api_error(lambda: stt.train_language_model(cid), 400)
    assert stt.get_language_model(cid).get_result()["status"] == "failed"
    warnings = stt.train_language_model(cid, strict=False).get_result()["warnings"]
    assert warnings[0]["code"] == "invalid_corpus_files"
    assert wait_status(stt, cid, {"available", "failed"})["status"] == "available"


def test_word_errors(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("w", PG).get_result()["customization_id"]
    msg = api_error(lambda: stt.add_word(cid, "dollars75", sounds_like=["75 dollars"]), 400)
    assert "Numbers are not allowed" in msg
    api_error(lambda: stt.get_word(cid, "dollars75"), 404)
    api_error(lambda: stt.add_word(cid, "many", sounds_like=["a", "b", "c", "d", "e", "f"]), 400)
    api_error(lambda: stt.add_word(cid, "long", sounds_like=["x" * 41]), 400)
    stt.add_words(cid, [{"word": "good"}, {"word": "bad", "sounds_like": ["75 dollars"]}])
    wait_status(stt, cid, {"ready"})
    bad = stt.get_word(cid, "bad").get_result()
    assert bad["error"] == [
        {"75 dollars": "Numbers are not allowed in sounds_like. You can try for example 'seventy five dollars'."}
    ]
    assert "words" in api_error(lambda: stt.train_language_model(cid, strict=True), 400)
    r = httpx.post(
        f"{fake_server.url}/v1/customizations/{cid}/words",
        json={"words": [{"word": "ok"}, {"nope": 1}]},
        auth=("apikey", fake_server.apikey),
    )
    assert_watson_error(r, 400)
    api_error(lambda: stt.get_word(cid, "ok"), 404)  # the malformed batch stored nothing
    r = httpx.post(
        f"{fake_server.url}/v1/customizations/{cid}/words", content=b"{not json", auth=("apikey", fake_server.apikey)
    )
    assert_watson_error(r, 400)
    stt.delete_word(cid, "bad")
    api_error(lambda: stt.delete_word(cid, "bad"), 404)
    words = stt.list_words(cid, sort="-alphabetical").get_result()["words"]
    assert [w["word"] for w in words] == ["good"]
    api_error(lambda: stt.list_words(cid, word_type="nope"), 400)


def test_train_conflicts_and_busy_model(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("t", PG).get_result()["customization_id"]
    assert "no valid data" in api_error(lambda: stt.train_language_model(cid), 400)
    stt.add_words(cid, [{"word": "alpha"}])
    wait_status(stt, cid, {"ready"})
    api_error(lambda: stt.train_language_model(cid, customization_weight=1.5), 400)

    # concurrent conflicting train requests: exactly one wins
    def train() -> int:
        r = httpx.post(f"{fake_server.url}/v1/customizations/{cid}/train", auth=("apikey", fake_server.apikey))
        return r.status_code

    with cf.ThreadPoolExecutor(6) as ex:
        codes = list(ex.map(lambda _: train(), range(6)))
    assert sorted(codes).count(200) == 1 and set(codes) <= {200, 409, 400}
    wait_status(stt, cid, {"available"})


def test_training_failure_marks_model_failed(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("f", PG).get_result()["customization_id"]
    stt.add_corpus(cid, "c", b"please failtraining now")
    wait_status(stt, cid, {"ready"})
    stt.train_language_model(cid)
    model = wait_status(stt, cid, {"failed", "available"})
    assert model["status"] == "failed" and "asked to fail" in model["error"]
    r = httpx.post(
        f"{fake_server.url}/v1/recognize",
        params={"language_customization_id": cid},
        content=CLIP.read_bytes(),
        headers={"Content-Type": "audio/wav"},
        auth=("apikey", fake_server.apikey),
    )
    assert "not available" in assert_watson_error(r, 400)["error"]


def test_recognize_custom_errors(fake_server: LiveServer) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("r", NG).get_result()["customization_id"]

    def post(**params: str) -> httpx.Response:
        return httpx.post(
            f"{fake_server.url}/v1/recognize",
            params=params,
            content=CLIP.read_bytes(),
            headers={"Content-Type": "audio/wav"},
            auth=("apikey", fake_server.apikey),
        )

    assert "not available" in assert_watson_error(post(model=NG, language_customization_id=cid), 400)["error"]
    assert "base model" in assert_watson_error(post(model=PG, language_customization_id=cid), 400)["error"]
    assert_watson_error(post(model=NG, language_customization_id="nope"), 404)


@pytest.mark.parametrize("base", [PG, NG])
def test_control_characters_in_words_are_refused(fake_server: LiveServer, base: str) -> None:
    """A word with U+0000 was once stored and trained, then every recognize with the model returned 500."""
    stt = sdk(fake_server)
    cid = stt.create_language_model("ctl", base).get_result()["customization_id"]
    words_url = f"{fake_server.url}/v1/customizations/{cid}/words"
    auth = ("apikey", fake_server.apikey)
    for bad in (
        {"word": "nul\u0000word"},
        {"word": "bell\u0007"},
        {"word": "c1\u0085"},
        {"word": "surrogate\ud800"},
        {"word": "fine", "sounds_like": ["fine\u0000"]},
        {"word": "fine", "display_as": "fi\u001bne"},
    ):
        body = json.dumps({"words": [{"word": "good"}, bad]})  # escapes the lone surrogate as JSON allows
        resp = httpx.post(words_url, content=body, auth=auth, headers={"Content-Type": "application/json"})
        assert_watson_error(resp, 400)
        assert "Control characters are not allowed" in resp.json()["error"], bad
    for path, body in (("a%00b", {}), ("fine", {"display_as": "x\u0000"}), ("fine", {"sounds_like": ["\u0001"]})):
        resp = httpx.put(f"{words_url}/{path}", json=body, auth=auth)
        assert_watson_error(resp, 400)
    assert stt.list_words(cid).get_result()["words"] == []  # nothing was stored
    stt.add_corpus(cid, "ctl", b"the zzalpha\x01zzbeta rate\x7f and \x1bzzgamma\x0b spread").get_result()
    wait_status(stt, cid, {"ready"})
    found = [w["word"] for w in stt.list_words(cid).get_result()["words"]]
    assert all(ch.isprintable() for w in found for ch in w), found
    stt.train_language_model(cid)
    assert wait_status(stt, cid, {"available", "failed"})["status"] == "available"
    assert stt.recognize(CLIP.read_bytes(), content_type="audio/wav", model=base, language_customization_id=cid)
