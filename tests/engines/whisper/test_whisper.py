"""The Whisper engine on real audio: version facts, accuracy, n-best, concurrency, silence."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded

from pathlib import Path

import numpy as np
import pytest

from bench.whisper_eval import engine_transcriber, evaluate, librivox_samples, read_wav
from parlance.engines.base import DecodeOptions, ModelVersion
from parlance.engines.whisper import WhisperEngine, builtin_version, telephony_version
from parlance.engines.whisper.model import WhisperModel
from parlance.engines.whisper.version import VERSION_DATE
from parlance.services.catalog import Catalog
from parlance.settings import Settings

LIBRIVOX = librivox_samples()


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine()


@pytest.fixture(scope="module")
def version() -> ModelVersion:
    return builtin_version()


@pytest.fixture(scope="module")
def model(engine: WhisperEngine, version: ModelVersion) -> WhisperModel:
    return engine.load(version)


def test_builtin_version_describes_the_packaged_weights(version: ModelVersion) -> None:
    assert version.base_model == "en-US_Multimedia"
    assert version.version == f"en-US_Multimedia.v{VERSION_DATE}"
    assert (version.engine, version.language, version.rate) == ("whisper", "en-US", 16000)
    assert "tiny.en" in version.description
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= set(version.files)
    assert all(len(digest) == 64 for digest in version.files.values())
    assert builtin_version() == version  # deterministic


def test_telephony_is_the_same_weights_listed_at_watsons_narrowband_rate(version: ModelVersion) -> None:
    telephony = telephony_version()
    assert (telephony.base_model, telephony.language, telephony.rate) == ("en-US_Telephony", "en-US", 8000)
    assert telephony.files == version.files and telephony.path == version.path


def test_the_catalog_serves_telephony_and_its_retired_name(tmp_path: Path) -> None:
    catalog = Catalog(Settings(data_dir=tmp_path / "data"))
    assert "en-US_Telephony" in catalog.base_models()
    served, warning = catalog.equivalent("en-US_NarrowbandModel")
    assert served == "en-US_Telephony" and warning and "en-US_NarrowbandModel" in warning


def test_engine_identity_and_vocabulary(engine: WhisperEngine, version: ModelVersion) -> None:
    assert (engine.name, engine.capabilities.generation) == ("whisper", "next")
    assert engine.in_vocabulary(version, "subrogation")  # NG: no OOV words


def test_one_utterance(model: WhisperModel) -> None:
    sample = LIBRIVOX[1]  # "he was not an ill disposed young man"
    [best] = model.transcribe(read_wav(sample.wav), DecodeOptions())
    assert best.transcript == " ".join(w.text for w in best.words)
    assert best.transcript == best.transcript.lower() and "." not in best.transcript
    assert best.transcript.startswith("he was not an")
    assert 0.5 < best.confidence <= 1
    starts = [w.start for w in best.words]
    assert starts == sorted(starts) and best.words[-1].end <= 3.1
    assert all(w.start <= w.end and 0 <= w.confidence <= 1 for w in best.words)


def test_alternatives_are_distinct_and_best_first(model: WhisperModel) -> None:
    # The beam's hypotheses often differ only in punctuation or casing, which collapse to the same
    # spoken words, so a clip may yield fewer alternatives than asked for; this one yields three.
    audio = read_wav(LIBRIVOX[1].wav)
    alternatives = model.transcribe(audio, DecodeOptions(max_alternatives=3))
    assert 2 <= len(alternatives) <= 3
    assert len({a.transcript for a in alternatives}) == len(alternatives)
    assert alternatives[0].words and not alternatives[1].words
    assert alternatives[0].confidence >= alternatives[1].confidence
    assert alternatives[0].transcript == model.transcribe(audio, DecodeOptions())[0].transcript


def test_silence_noise_and_empty_input_give_nothing(model: WhisperModel) -> None:
    rng = np.random.default_rng(0)
    assert model.transcribe(np.zeros(0, np.float32), DecodeOptions()) == []
    assert model.transcribe(np.zeros(48000, np.float32), DecodeOptions()) == []
    assert model.transcribe(rng.normal(0, 0.1, 48000).astype(np.float32), DecodeOptions()) == []


@pytest.mark.slow
def test_librivox_wer(model: WhisperModel) -> None:
    report = evaluate(engine_transcriber(model), LIBRIVOX, workers=2)
    print(f"\nlibrivox base: {report}")
    assert report.wer <= 0.08


@pytest.mark.slow
def test_concurrent_calls_match_sequential(model: WhisperModel) -> None:
    clips = [read_wav(s.wav) for s in LIBRIVOX]
    clips += clips[:3]  # 8 calls on 8 threads
    options = DecodeOptions(max_alternatives=2)
    once = [model.transcribe(a, options) for a in clips[: len(LIBRIVOX)]]
    sequential = once + once[:3]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda a: model.transcribe(a, options), clips))
    assert [[a.transcript for a in alts] for alts in concurrent] == [
        [a.transcript for a in alts] for alts in sequential
    ]
    assert [alts[0].words for alts in concurrent] == [alts[0].words for alts in sequential]


CARDS = "/usr/share/pocketsphinx/test/data/cards"
CARDS_GRAMMAR = """#ABNF 1.0;
root $cards;
public $cards = $card <1-3> | $rank $card | $rank $rank;
$card = $rank [of] $suit;
$suit = clubs | hearts | diamonds | spades;
$rank = ace | two | three | four | five | six | seven | eight | nine | ten | jack | queen | king;
"""
CARDS_TEXT = {"001": "ten of clubs", "002": "four queen of clubs", "004": "five five"}


@pytest.mark.parametrize("clip", sorted(CARDS_TEXT))
def test_grammar_prompt_and_score_on_real_speech(model: WhisperModel, clip: str) -> None:
    from parlance.customization.srgs import compile_grammar
    from parlance.engines import grammar_select

    audio = read_wav(f"{CARDS}/{clip}.wav")
    prompt = grammar_select.prompt_text(compile_grammar(CARDS_GRAMMAR, "application/srgs"))
    # Prompted with grammar sentences, Whisper writes the words the grammar has ("five five", not "55").
    hypotheses = model.transcribe(audio, DecodeOptions(max_alternatives=8, prompt=prompt))
    assert CARDS_TEXT[clip] in {a.transcript for a in hypotheses}
    # Teacher-forced scores rank the spoken sentence above the other clips' sentences.
    sentences = sorted(set(CARDS_TEXT.values()))
    scores = model.score(audio, sentences, prompt=prompt)
    assert sentences[int(np.argmax(scores))] == CARDS_TEXT[clip]
    assert model.score(audio, sentences) != scores  # the prompt is part of the score


def test_scoring_reuses_the_encoding_of_the_decoded_audio(model: WhisperModel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    audio = read_wav(f"{CARDS}/004.wav") * np.float32(0.9)  # content no other test has had encoded
    calls: list[int] = []
    encode = model._fw.encode
    monkeypatch.setattr(model._fw, "encode", lambda features: calls.append(1) or encode(features))
    first = model.transcribe(audio, DecodeOptions(max_alternatives=8))
    scores = model.score(audio, ["five five", "ten of clubs"])
    assert len(calls) == 1  # one encoder pass for decode and scoring
    model.score(audio[:-1600], ["five five"])
    assert len(calls) == 2  # other audio is encoded afresh
    assert model.transcribe(audio, DecodeOptions(max_alternatives=8)) == first
    assert model.score(audio, ["five five", "ten of clubs"]) == scores
