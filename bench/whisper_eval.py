"""Measure what a Whisper custom model buys: WER and custom-term recall against peers.

Reusable from tests and benchmarks:

    samples = finance_samples(Path("tests/data/finance"), cache_dir)   # synthesized once
    report = evaluate(engine_transcriber(model, custom), samples)          # Parlance custom model
    peer = evaluate(faster_whisper_peer(model_dir, words, "hotwords"), samples)
    print(report.wer, report.term_recall)

Both sides are scored the same way: references and hypotheses go through `normalize` (lower-case
spoken words, punctuation dropped, numerals and abbreviations spelled out), WER comes from jiwer, and
term recall is the share of the reference's custom terms found as whole words in the hypothesis,
case-insensitive.

Benchmark code, not part of the package: tests import it as `bench.whisper_eval` (pytest puts the
repository root on sys.path), the scripts beside it, run as `python bench/NAME.py`, as `whisper_eval`.
"""

from __future__ import annotations

import csv
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parlance.customization.spoken import spoken_words
from parlance.engines.base import SAMPLE_RATE, CustomArtifact, DecodeOptions, LoadedModel

VOICES = ("slt", "rms", "en")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")

Transcriber = Callable[[np.ndarray], str]


@dataclass(frozen=True)
class Sample:
    id: str
    wav: Path
    reference: str
    terms: tuple[str, ...] = ()


@dataclass
class Report:
    wer: float
    term_recall: float
    terms_found: int
    terms_total: int
    seconds: float
    hypotheses: list[str] = field(default_factory=list)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (sample id, term, hypothesis)
    train_seconds: float | None = None  # set on a custom model's report by `compare`

    def __str__(self) -> str:
        return (
            f"WER {self.wer:.1%}, term recall {self.term_recall:.1%} "
            f"({self.terms_found}/{self.terms_total}), {self.seconds:.1f} s"
        )


def normalize(text: str) -> str:
    return " ".join(spoken_words(text))


def percent_wer(reference: str, hypothesis: str) -> float:
    """WER in percent, both sides normalized (numbers, case and punctuation as spoken words)."""
    import jiwer

    return 100 * jiwer.wer(normalize(reference), normalize(hypothesis))


def results_transcript(results: Sequence[dict[str, Any]]) -> str:
    """The best transcripts of Watson `results`, joined."""
    return " ".join(r["alternatives"][0]["transcript"] for r in results)


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono 16-bit WAV as float32 in [-1, 1]."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return audio.mean(axis=1)


def finance_samples(
    testdata: Path, cache_dir: Path, voices: Sequence[str] = VOICES, synth: Path | None = None
) -> list[Sample]:
    """The domain test set: each `tests.tsv` line spoken by each voice (synthesized once into cache_dir)."""
    synth = synth or testdata.parent / "synth.sh"
    cache_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    with open(testdata / "tests.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            terms = tuple(t.strip() for t in row["terms"].split(",") if t.strip())
            for voice in voices:
                wav = cache_dir / f"{row['id']}-{voice}.wav"
                if not wav.exists():
                    tmp = wav.with_suffix(".tmp.wav")
                    subprocess.run(["bash", str(synth), voice, str(tmp), row["spoken"]], check=True)
                    tmp.replace(wav)
                samples.append(Sample(f"{row['id']}-{voice}", wav, row["reference"], terms))
    return samples


def librivox_samples(directory: Path = LIBRIVOX) -> list[Sample]:
    """General read speech: the LibriVox clips of Debian's pocketsphinx-testdata with their references."""
    samples = []
    for line in (directory / "transcription").read_text().splitlines():
        m = re.fullmatch(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
        if m:
            samples.append(Sample(m.group(2), directory / f"{m.group(2)}.wav", m.group(1)))
    return samples


def term_hits(terms: Sequence[str], hypothesis: str) -> list[bool]:
    """Whether each term occurs in the hypothesis as whole words, case-insensitive (punctuation ignored)."""
    words = re.findall(r"[^\W_]+(?:'[^\W_]+)*", hypothesis.lower())
    hits = []
    for term in terms:
        parts = term.lower().split()
        n = len(parts)
        hits.append(any(words[i : i + n] == parts for i in range(len(words) - n + 1)))
    return hits


def evaluate(transcribe: Transcriber, samples: Sequence[Sample], workers: int = 1) -> Report:
    """Transcribe every sample (on `workers` threads) and score the lot."""
    import jiwer

    refs, hyps, misses = [], [], []
    found = total = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        hypotheses = list(pool.map(lambda s: transcribe(read_wav(s.wav)), samples))
    for sample, hypothesis in zip(samples, hypotheses, strict=True):
        refs.append(normalize(sample.reference))
        hyps.append(normalize(hypothesis))
        for term, hit in zip(sample.terms, term_hits(sample.terms, hypothesis), strict=True):
            total += 1
            found += hit
            if not hit:
                misses.append((sample.id, term, hypothesis))
    seconds = time.perf_counter() - started
    wer = float(jiwer.wer(refs, hyps))
    recall = found / total if total else 1.0
    return Report(wer, recall, found, total, seconds, hyps, misses)


def engine_transcriber(model: LoadedModel, custom: CustomArtifact | None = None) -> Transcriber:
    """Parlance's engine as a transcriber (best alternative's transcript)."""
    options = DecodeOptions(custom=custom)

    def transcribe(audio: np.ndarray) -> str:
        alternatives = model.transcribe(audio, options)
        return alternatives[0].transcript if alternatives else ""

    return transcribe


def faster_whisper_peer(
    model_dir: Path, words: Sequence[str], mode: str, beam_size: int = 5, workers: int = 2
) -> Transcriber:
    """Plain faster-whisper given every custom word as `hotwords` (space-separated, as hotword lists
    are usually written) or as `initial_prompt` (a comma-separated glossary); mode "none" for neither.

    For one window of at most 30 s the two are the same mechanism (tokens after <|startofprev|>),
    so they differ only in how the list is written.
    """
    from faster_whisper import WhisperModel

    if mode not in ("hotwords", "initial_prompt", "none"):
        raise ValueError("mode must be 'hotwords', 'initial_prompt' or 'none'")
    model = WhisperModel(
        str(model_dir),
        device="cpu",
        compute_type="int8",
        cpu_threads=1,
        num_workers=workers,
        local_files_only=True,
    )
    extra = {"hotwords": " ".join(words), "initial_prompt": ", ".join(words), "none": None}[mode]
    kwargs = {mode: extra} if extra else {}

    def transcribe(audio: np.ndarray) -> str:
        segments, _info = model.transcribe(
            audio,
            language="en",
            beam_size=beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
            **kwargs,
        )
        return " ".join(s.text.strip() for s in segments)

    return transcribe


def compare(testdata: Path, work_dir: Path, workers: int = 2, weight: float | None = None) -> dict[str, Report]:
    """The whole comparison on one domain set, for tests and benchmarks.

    Trains a custom model from `testdata`/corpus.txt and words.json into `work_dir`/custom, then
    reports on the synthesized test set (cached in `work_dir`/wav): "base" and "custom" (this
    engine), "hotwords" and "initial_prompt" (plain faster-whisper given every custom word), and on
    the LibriVox clips "general_base" and "general_custom".
    """
    import json

    from parlance.engines.base import TrainingInput
    from parlance.engines.whisper import WhisperEngine, builtin_version

    engine = WhisperEngine(cpu_threads=1, num_workers=workers)
    version = builtin_version()
    model = engine.load(version)
    words = json.loads((testdata / "words.json").read_text())["words"]
    corpus = (testdata / "corpus.txt").read_text()
    data = TrainingInput(corpora={"corpus": corpus}, words=words, weight=0.2 if weight is None else weight)
    started = time.perf_counter()
    engine.train(version, data, work_dir / "custom", lambda _p: None)
    train_seconds = time.perf_counter() - started
    custom = CustomArtifact(work_dir / "custom", data.weight)
    samples = finance_samples(testdata, work_dir / "wav")
    general = librivox_samples()
    displays = [w.get("display_as") or w["word"] for w in words]
    reports = {
        "base": evaluate(engine_transcriber(model), samples, workers),
        "custom": evaluate(engine_transcriber(model, custom), samples, workers),
        "hotwords": evaluate(faster_whisper_peer(version.path, displays, "hotwords"), samples, workers),
        "initial_prompt": evaluate(faster_whisper_peer(version.path, displays, "initial_prompt"), samples, workers),
        "general_base": evaluate(engine_transcriber(model), general, workers),
        "general_custom": evaluate(engine_transcriber(model, custom), general, workers),
    }
    reports["custom"].train_seconds = train_seconds
    return reports
