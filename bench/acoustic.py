"""Custom acoustic models on en-US_BroadbandModel: WER before/after adaptation, per synthetic voice.

For each voice, adaptation speech (>= --minutes of it: the five customization domains' corpora, shuffled) is
synthesized with tests/data/synth.sh, the PocketSphinx engine adapts on it with transcripts and without,
and 60 held-out sentences (disjoint text) of the same voice and of the next voice of the ring (VOICES) are
recognized with the base and the adapted model. Without transcripts, the audio is first decoded as the
service does when audio is added (`acoustic_first_pass`): that time is reported as audio processing,
apart from training. Synthesized audio and first-pass decodings are cached in a temp folder.

    python bench/acoustic.py [--voices slt rms awb kal16 kal en] [--minutes 10] [--modes yes no]
    python bench/acoustic.py --no-wer          # training times only, at normal priority
    python -m bench.acoustic --grammars [--voices ...] [--sentences 36] [--seed 7]   # bench/grammars.py test
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
DOMAINS = ROOT / "tests/data/domains"
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
    "the cat jumped onto the roof of the garage",
    "we bought apples and pears at the farm shop",
    "the bus was late because of the heavy snow",
    "my sister is learning to play the violin",
    "the library is closed on sundays and holidays",
    "he cooked fish and rice for his friends",
    "the boys climbed the hill behind the school",
    "she lost her keys somewhere in the park",
    "the baker opens his shop very early every day",
    "a strong wind blew the leaves across the yard",
    "the nurse brought him a glass of cold milk",
    "we spent the afternoon swimming in the lake",
    "the little girl drew a picture of a horse",
    "my father fixed the broken chair in the hall",
    "the moon was bright over the quiet town",
    "they sang songs around the fire at the camp",
    "the shoes in the window were too expensive",
    "her uncle lives on a farm with many cows",
    "the plane landed safely despite the fog",
    "i usually drink tea with honey in the evening",
    "the students cleaned the beach on friday",
    "a bird built a nest in the tree near our house",
    "the soup was too hot to eat right away",
    "he carried the heavy box up the stairs",
    "the flowers in the garden need more sunlight",
    "we missed the beginning of the film",
    "the fisherman caught three big fish before noon",
    "she wore a red coat and a warm hat",
    "the clock on the wall stopped at midnight",
    "my grandfather tells funny stories about the war",
    "the road to the mountains was closed for repairs",
    "the kids built a snowman in the front yard",
    "he found an old coin in the sand",
    "the shop sells bread cheese and fresh fruit",
    "our car broke down on the way to the coast",
    "the baby fell asleep in her mother's arms",
    "a group of tourists took photos of the castle",
    "the water in the pond was green and still",
    "she opened the door and called the dog inside",
    "the band played music in the square all night",
]
SUBJECTS = ["the manager", "our team", "the auditor", "my colleague", "the new client", "the analyst", "the board"]
VERBS = ["reviewed", "approved", "questioned", "updated", "discussed", "signed", "rejected", "summarized"]
OBJECTS = ["the quarterly budget", "the loan agreement", "the sales forecast", "the travel policy", "the annual report"]
TAILS = ["on monday", "before the deadline", "after the meeting", "last week", "in the morning", "with the lawyers"]


def adaptation_text(seconds: float, seed: int = 3) -> list[str]:
    """Sentences of the five customization domains (tests/data/domains: finance, law, pharmacology,
    software, places and people), shuffled, then generated office sentences if more are needed, until
    about `seconds` of speech (~2.6 words/s). Varied text covers more of the phones' contexts than one
    domain's: on slt with tau 10, 10 min of it gave -58% WER where the finance corpus plus generated
    sentences gave -32% (docs/benchmarks.md)."""
    lines = [line.strip() for path in sorted(DOMAINS.glob("*/corpus.txt")) for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    rng = random.Random(seed)
    rng.shuffle(lines)
    text: list[str] = []
    while sum(len(s.split()) for s in text) / 2.6 < seconds:
        text.append(lines.pop() if lines else " ".join(rng.choice(part) for part in (SUBJECTS, VERBS, OBJECTS, TAILS)))
    test = {" ".join(s.split()) for s in TEST_SENTENCES}
    return [s for s in text if s not in test]


def synth(voice: str, text: str, name: str | None = None) -> Path:
    """`text` spoken by `voice`, cached by `name` (default: a digest of the text)."""
    out = CACHE / voice / f"{name or hashlib.sha1(text.encode()).hexdigest()[:16]}.wav"
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


# Each adapted model is also measured on the next voice of this ring (harm to other speakers).
VOICES = ["slt", "rms", "awb", "kal16", "kal", "en"]


def untranscribed(model: object, voice: str, files: list[Path]) -> tuple[list[AdaptationUtterance], float]:
    """The service's audio processing for files without transcripts: split at pauses and decoded once
    (acoustic_first_pass); returns the utterances with their decodings and the time the decoding took.
    Kept in the cache with that time (runs with other adaptation settings reuse it)."""
    import json

    from parlance.services import acoustic_first_pass

    version = builtin_version().version
    cache = CACHE / "first-pass" / f"{voice}-{len(files)}-{version}.json"
    key = acoustic_first_pass.DecodeKey(version)
    if cache.exists():
        took = json.loads(cache.read_text())["seconds"]
    else:
        started = time.monotonic()
        for f in files:
            acoustic_first_pass.write(f, key, acoustic_first_pass.decode(model, samples(f), None))  # type: ignore[arg-type]
        took = time.monotonic() - started
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"seconds": took, "measured": time.strftime("%Y-%m-%d %H:%M")}))
    utts = []
    for f in files:
        for seg in acoustic_first_pass.read(f, key) or []:
            utts.append(AdaptationUtterance(f, f.name, seg.start, seg.end, decoded=seg.words))
    return utts, took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", nargs="+", default=VOICES)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--modes", nargs="+", default=["yes", "no"], help="adapt with transcripts (yes), without (no)")
    ap.add_argument("--grammars", action="store_true", help="grammar sentence accuracy with adapted models instead")
    ap.add_argument("--sentences", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-wer", action="store_true", help="training times only (run at normal priority)")
    args = ap.parse_args()
    if args.grammars:
        grammar_accuracy(args.voices, args.sentences, args.seed, args.minutes)
        return
    version, engine = builtin_version(), PocketSphinxEngine()
    model = engine.load(version)
    text = adaptation_text(args.minutes * 60)
    other = {v: VOICES[(VOICES.index(v) + 1) % len(VOICES)] for v in args.voices}
    base: dict[str, float] = {}
    print(f"held-out test: {len(TEST_SENTENCES)} sentences, {sum(len(words(s)) for s in TEST_SENTENCES)} words")
    print(
        "| voice | transcripts | adaptation audio (used) | method | WER same voice: base -> adapted | "
        "other voice: base -> adapted | audio processing / audio | training / audio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for voice in args.voices:
        files = [synth(voice, line) for line in text]
        audio_seconds = sum(len(samples(f)) for f in files) / 16000
        for v in (voice, other[voice]):
            if v not in base:
                base[v] = float("nan") if args.no_wer else wer(model, v, None)
        if args.no_wer:  # the first pass timed afresh at this priority, on the first 40 files
            from parlance.services import acoustic_first_pass

            sample = files[:40]
            started = time.monotonic()
            for f in sample:
                acoustic_first_pass.decode(model, samples(f), None)
            took = time.monotonic() - started
            sample_seconds = sum(len(samples(f)) for f in sample) / 16000
            ratio = took / sample_seconds
            print(f"{voice}: first pass of {sample_seconds:.0f} s of audio took {took:.1f} s = {ratio:.3f}x")
        for with_transcripts in [mode == "yes" for mode in args.modes]:
            if with_transcripts:
                utts = [AdaptationUtterance(f, f.name, transcript=line) for f, line in zip(files, text, strict=True)]
                processing = 0.0
            else:
                utts, processing = untranscribed(model, voice, files)
            out = CACHE / "models" / f"{voice}-{with_transcripts}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            started = time.monotonic()
            summary = engine.adapt(version, AdaptationInput(utts, CACHE / "base"), out, lambda p: None)
            took = time.monotonic() - started
            same = cross = float("nan")
            if not args.no_wer:
                same, cross = wer(model, voice, out), wer(model, other[voice], out)
            rel = 100 * (base[voice] - same) / max(base[voice], 1e-9)
            print(
                f"| {voice} | {'yes' if with_transcripts else 'no'} | {audio_seconds / 60:.1f} min "
                f"({summary['seconds'] / 60:.1f}) | {summary['method']} | {base[voice]:.1f}% -> {same:.1f}% "
                f"({-rel:+.0f}% rel.) | {other[voice]} {base[other[voice]]:.1f}% -> {cross:.1f}% "
                f"({cross - base[other[voice]]:+.1f}) | {processing:.0f} s = {processing / audio_seconds:.3f}x | "
                f"{took:.1f} s = {took / audio_seconds:.3f}x |",
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
                        zf.write(synth(voice, line), f"u{i:04d}.wav")
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
