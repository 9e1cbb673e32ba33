"""Custom acoustic models on en-US_BroadbandModel: WER before/after adaptation, per synthetic voice.

For each voice, adaptation speech (>= --minutes of it: the finance corpus plus generated sentences) is
synthesized with tests/data/synth.sh, the PocketSphinx engine adapts on it with transcripts and without
(first-pass decoding), and held-out sentences (disjoint text) of the same voice and of another voice
are recognized with the base and the adapted model. Synthesized audio is cached in a temp folder.

    python bench/acoustic.py [--voices slt rms en] [--minutes 10] [--modes yes no]
    python -m bench.acoustic --grammars [--voices ...] [--sentences 36] [--seed 7]   # bench/grammars.py test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from parlance.engines.base import AdaptationInput, AdaptationUtterance, DecodeOptions
from parlance.engines.pocketsphinx.engine import PocketSphinxEngine
from parlance.engines.pocketsphinx.version import builtin_version

ROOT = Path(__file__).resolve().parent.parent
SYNTH = ROOT / "tests/data/synth.sh"
CORPUS = ROOT / "tests/data/finance/corpus.txt"
CACHE = Path(tempfile.gettempdir()) / "parlance-bench-acoustic"
TEST_SENTENCES = [
    "the weather was cold and windy on the morning of the trip",
    "she sold her house and moved to a small village near the sea",
    "the children played in the garden until the sun went down",
    "please close the window before you leave the room",
    "my brother bought a new bicycle for his daughter",
    "the train to the city leaves every hour from platform two",
    "we walked along the river and watched the boats go by",
    "he forgot his umbrella at the restaurant last night",
    "the doctor told him to drink more water and rest",
    "a large dog was sleeping under the kitchen table",
    "they painted the fence white during the summer holiday",
    "the museum opens at nine and closes at five",
    "our neighbors invited us to dinner on saturday",
    "the teacher read a story to the class after lunch",
    "it started to rain just as we reached the station",
    "the old bridge was repaired after the storm",
    "she plays the piano every evening after work",
    "the farmer sold fresh eggs at the market",
    "there is a small cafe at the corner of the street",
    "he wrote a long letter to his grandmother",
]
SUBJECTS = ["the manager", "our team", "the auditor", "my colleague", "the new client", "the analyst", "the board"]
VERBS = ["reviewed", "approved", "questioned", "updated", "discussed", "signed", "rejected", "summarized"]
OBJECTS = ["the quarterly budget", "the loan agreement", "the sales forecast", "the travel policy", "the annual report"]
TAILS = ["on monday", "before the deadline", "after the meeting", "last week", "in the morning", "with the lawyers"]


def adaptation_text(seconds: float, seed: int = 3) -> list[str]:
    """The finance corpus, then generated sentences, until about `seconds` of speech (~2.6 words/s)."""
    lines = [line.strip() for line in CORPUS.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    while sum(len(s.split()) for s in lines) / 2.6 < seconds:
        parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)]
        lines.append(" ".join(parts))
    test = {" ".join(s.split()) for s in TEST_SENTENCES}
    return [s for s in lines if s not in test]


def synth(voice: str, text: str, name: str) -> Path:
    out = CACHE / voice / f"{name}.wav"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["bash", str(SYNTH), voice, str(out), text], check=True, capture_output=True)
    return out


def samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def words(text: str) -> list[str]:
    return [w for w in text.lower().replace("'", "'").split() if w]


def edit_distance(a: list[str], b: list[str]) -> int:
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[-1]


def wer(model: object, voice: str, acoustic: Path | None) -> float:
    errors = total = 0
    for i, ref in enumerate(TEST_SENTENCES):
        alts = model.transcribe(samples(synth(voice, ref, f"test-{i:03d}")), DecodeOptions(acoustic=acoustic))  # type: ignore[attr-defined]
        hyp = alts[0].transcript if alts else ""
        errors += edit_distance(words(ref), words(hyp))
        total += len(words(ref))
    return 100.0 * errors / total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", nargs="+", default=["slt", "rms", "en"])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--modes", nargs="+", default=["yes", "no"], help="adapt with transcripts (yes), without (no)")
    ap.add_argument("--grammars", action="store_true", help="grammar sentence accuracy with adapted models instead")
    ap.add_argument("--sentences", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.grammars:
        grammar_accuracy(args.voices, args.sentences, args.seed, args.minutes)
        return
    version, engine = builtin_version(), PocketSphinxEngine()
    model = engine.load(version)
    text = adaptation_text(args.minutes * 60)
    other = {"slt": "rms", "rms": "en", "en": "slt"}
    print("voice | transcripts | adapt audio | method | WER same voice | other voice | train time / audio")
    for voice in args.voices:
        files = [synth(voice, line, f"adapt-{i:04d}") for i, line in enumerate(text)]
        audio_seconds = sum(len(samples(f)) for f in files) / 16000
        base_same, base_other = wer(model, voice, None), wer(model, other[voice], None)
        for with_transcripts in [mode == "yes" for mode in args.modes]:
            utts = [
                AdaptationUtterance(f, f.name, transcript=line if with_transcripts else None)
                for f, line in zip(files, text, strict=True)
            ]
            out = CACHE / "models" / f"{voice}-{with_transcripts}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            started = time.monotonic()
            summary = engine.adapt(version, AdaptationInput(utts, CACHE / "base"), out, lambda p: None)
            took = time.monotonic() - started
            same, cross = wer(model, voice, out), wer(model, other[voice], out)
            print(
                f"{voice} | {'yes' if with_transcripts else 'no'} | {audio_seconds / 60:.1f} min "
                f"({summary['seconds'] / 60:.1f} used) | {summary['method']} | {base_same:.1f} -> {same:.1f} "
                f"({100 * (base_same - same) / max(base_same, 1e-9):.0f}% rel.) | {other[voice]} {base_other:.1f} -> "
                f"{cross:.1f} | {took:.1f} s = {took / audio_seconds:.3f}x",
                flush=True,
            )


def grammar_accuracy(voices: list[str], total: int, seed: int, minutes: float) -> None:
    """bench/grammars.py's sentences on en-US_BroadbandModel, with an acoustic model adapted to each voice
    (through the service layer: a zip of the voice's adaptation speech with transcripts, then training)."""
    import io
    import zipfile

    from bench.grammars import recognize, trained
    from bench.grammars import sentences as grammar_sentences
    from parlance.services.container import Services
    from parlance.settings import Settings

    base = "en-US_BroadbandModel"
    items = grammar_sentences(total, seed)
    text = adaptation_text(minutes * 60)
    with tempfile.TemporaryDirectory() as data:
        svc = Services.build(Settings(data_dir=Path(data), auth=False))
        svc.start()
        owner = svc.auth.ensure_dev_instance()
        try:
            lm = trained(svc, owner, base)
            for voice in voices:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    for i, line in enumerate(text):
                        zf.write(synth(voice, line, f"adapt-{i:04d}"), f"u{i:04d}.wav")
                        zf.writestr(f"u{i:04d}.txt", line)
                am = svc.acoustic.create(owner, {"name": f"voice-{voice}", "base_model_name": base})
                svc.acoustic_audio.add(owner, am, "speech", buf.getvalue(), "application/zip", None, False)
                while svc.acoustic.get(owner, am)["status"] not in ("ready", "failed"):
                    time.sleep(0.1)
                started = time.monotonic()
                svc.acoustic.train(owner, am, None)
                while (status := svc.acoustic.get(owner, am)["status"]) == "training":
                    time.sleep(0.1)
                if status != "available":
                    raise RuntimeError(f"training failed: {svc.acoustic.get(owner, am)}")
                took = time.monotonic() - started
                right = {"base": 0, "adapted": 0}
                for grammar, sentence in items:
                    audio = synth(voice, sentence, "grammar-" + "_".join(sentence.split())).read_bytes()
                    right["base"] += recognize(svc, owner, base, lm, grammar, audio) == sentence
                    params_audio = [(audio, "audio/wav")]
                    params = {
                        "model": base,
                        "language_customization_id": lm,
                        "grammar_name": grammar,
                        "acoustic_customization_id": am,
                    }
                    result = asyncio.run(svc.recognition.recognize(owner, params_audio, params))
                    got = " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])
                    right["adapted"] += got == sentence
                n = len(items)
                print(
                    f"grammars | {voice} | base {right['base'] / n:.1%} ({right['base']}/{n}) -> adapted "
                    f"{right['adapted'] / n:.1%} ({right['adapted']}/{n}) | training {took:.1f} s",
                    flush=True,
                )
        finally:
            svc.close()


if __name__ == "__main__":
    main()
