"""Long audio decoded piece by piece (sequential) and several pieces at a time (batched), per model.

Builds a 10-minute FLAC of real speech, the LibriVox clips of Debian's pocketsphinx-testdata in turn, each
at a seeded random gain of 0.6 to 1.0 (so that no two pieces are the same samples: the Whisper encoder
keeps recent encodings by content, which repeated clips would hit) and followed by a pause of 1.2 to 2.0 s,
written to bench/out/long_audio/ (ignored by git). Then, in one process and one run, for each model it
recognizes the file through `RecognitionService.run` (the path of sync `recognize`, async jobs and batch
transcriptions) twice: with `decode_batch_size` 1 (sequential) and with the batch size asked for
(default: the setting's default), each side on its own service with the model loaded and warmed up first.
It prints wall and CPU seconds per side, the speed-up, and whether the two results are identical: the
transcripts, and the whole results (word timestamps, confidences, alternatives) compared exactly.

    python bench/long_audio.py                                  # both models (~10 min on 2 idle cores)
    python bench/long_audio.py --models en-US_Multimedia --minutes 2

Run it at normal priority: it is a timing measurement. Target (issue 16): en-US_Multimedia batched
>= 1.5x faster than sequential on 2 cores, same transcript.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from whisper_eval import librivox_samples  # noqa: E402 - a sibling module

from parlance.services.container import Services  # noqa: E402
from parlance.settings import Settings  # noqa: E402

RATE = 16000
OUT = Path(__file__).resolve().parent / "out" / "long_audio"
MODELS = ("en-US_Multimedia", "en-US_BroadbandModel")
PARAMS = {"timestamps": True, "word_confidence": True, "inactivity_timeout": -1}
TARGET = 1.5


@dataclass
class Side:
    batch_size: int
    wall: float
    cpu: float
    load: tuple[float, float]  # 1-minute load average before and after
    results: list[dict[str, Any]]


def make_file(minutes: float) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{minutes:g}min.flac"
    if path.exists():
        return path
    rng = random.Random(16)
    clips = [sf.read(s.wav, dtype="float32")[0] for s in librivox_samples()]
    parts: list[np.ndarray] = []
    total, seconds = 0, minutes * 60
    while total < seconds * RATE:
        for clip in clips:
            pause = np.zeros(int(rng.uniform(1.2, 2.0) * RATE), dtype=np.float32)
            parts += [clip * rng.uniform(0.6, 1.0), pause]
            total += len(clip) + len(pause)
    sf.write(path, np.concatenate(parts)[: int(seconds * RATE)], RATE, format="FLAC", subtype="PCM_16")
    return path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def recognize(services: Services, model: str, audio: bytes, batch_size: int) -> Side:
    prepared = services.recognition.prepare("bench", {"model": model, **PARAMS})
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = services.recognition.run(prepared, [(audio, "audio/flac")])
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return Side(batch_size, wall, cpu, (load, os.getloadavg()[0]), out["results"])


def transcript(results: list[dict[str, Any]]) -> str:
    return "".join(r["alternatives"][0]["transcript"] for r in results).strip()


def differing(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """Results that are not exactly equal (and any one side has more)."""
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


# ---- en-US_BroadbandModel in processes: an experiment, not a path of the service ---------------------
# PocketSphinx holds the GIL, so the service decodes its pieces one at a time. This measures what decoding
# them in engine processes would give: the same pieces, each process with its own loaded model.
_model: Any = None


def _load_in_process(data_dir: Path, model: str) -> None:
    global _model
    services = Services.build(Settings(data_dir=data_dir, auth=False))
    _model = services.pool.model(services.recognition.prepare("bench", {"model": model}).version)


def broadband_in_processes(data_dir: Path, audio: bytes, processes: int) -> tuple[float, float, list[str]]:
    """Wall seconds, the CPU seconds of the processes and the transcripts when the pieces of `audio` are
    decoded by `processes` processes (the model loaded in each beforehand), in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    model = "en-US_BroadbandModel"
    services = Services.build(Settings(data_dir=data_dir, auth=False))
    prepared = services.recognition.prepare("bench", {"model": model, **PARAMS})
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, context, initializer=_load_in_process, initargs=(data_dir, model)) as pool:
        list(pool.map(time.sleep, [0.5] * processes))  # every process started and loaded
        pids = list(pool._processes)  # type: ignore[attr-defined] # their CPU, without the model loading
        before = sum(_process_cpu(pid) for pid in pids)
        wall = time.perf_counter()
        pieces = services.recognition._utterances([(audio, "audio/flac")], prepared.params)
        texts = list(pool.map(_transcribe_in_process, (seg.samples for seg in pieces)))
        wall = time.perf_counter() - wall
        cpu = sum(_process_cpu(pid) for pid in pids) - before
    services.close()
    return wall, cpu, [t for t in texts if t]


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _transcribe_in_process(samples: np.ndarray) -> str:
    from parlance.engines.base import DecodeOptions

    alternatives = _model.transcribe(samples, DecodeOptions())
    return alternatives[0].transcript if alternatives else ""


# ---- CTranslate2 batches: what decoding several windows in one call would give ----------------------


def ct2_batches(data_dir: Path, audio: bytes, pieces: int, batch: int) -> None:
    """CPU seconds of Whisper's encoder, beam search and alignment over the first `pieces` pieces of `audio`,
    one window per call (as the service decodes) against `batch` windows per call, on one replica; and in
    how many pieces the batched call's output differs from the single one (tokens and scores, word times)."""
    services = Services.build(Settings(data_dir=data_dir, auth=False))
    prepared = services.recognition.prepare("bench", {"model": "en-US_Multimedia", **PARAMS})
    model: Any = services.pool.model(prepared.version)
    cut = services.recognition._utterances([(audio, "audio/flac")], prepared.params)
    windows = [seg.samples for seg in itertools.islice(cut, pieces)]
    fw, ct2 = model._fw, model._ct2
    fe = fw.feature_extractor
    feats, frames = [], []
    for w in windows:
        f = fe(w)
        n = min(f.shape[-1] - 1, fe.nb_max_frames)
        padded = np.zeros((f.shape[0], fe.nb_max_frames), dtype=np.float32)
        padded[:, :n] = f[:, :n]
        feats.append(padded)
        frames.append(n)
    start = model._sot_sequence + [model._no_timestamps]
    options = {
        "beam_size": model.beam_size,
        "return_scores": True,
        "return_no_speech_prob": True,
        "max_length": fw.max_length,
        "suppress_blank": True,
        "suppress_tokens": model._suppress,
    }
    groups = [range(i, min(i + batch, len(windows))) for i in range(0, len(windows), batch)]
    fw.encode(feats[0])  # warm

    def timed(fn: Any) -> tuple[float, Any]:
        cpu = time.process_time()
        out = fn()
        return time.process_time() - cpu, out

    enc1, single = timed(lambda: [fw.encode(f) for f in feats])
    encb, batched = timed(lambda: [fw.encode(np.stack([feats[i] for i in g])) for g in groups])
    gen1, gens = timed(lambda: [ct2.generate(e, [start], **options)[0] for e in single])
    genb, genbs = timed(
        lambda: [r for e, g in zip(batched, groups, strict=True) for r in ct2.generate(e, [start] * len(g), **options)]
    )
    tokens = [[t for t in r.sequences_ids[0] if t < model._eot] for r in gens]
    al1, aligned = timed(
        lambda: [
            fw.find_alignment(model.tokenizer, [t], e, n)[0] for t, e, n in zip(tokens, single, frames, strict=True)
        ]
    )
    alb, alignedb = timed(
        lambda: [
            a
            for e, g in zip(batched, groups, strict=True)
            for a in fw.find_alignment(model.tokenizer, [tokens[i] for i in g], e, [frames[i] for i in g])
        ]
    )
    services.close()
    differ_gen = sum(
        a.sequences_ids != b.sequences_ids or a.scores != b.scores for a, b in zip(gens, genbs, strict=True)
    )
    differ_align = sum(a != b for a, b in zip(aligned, alignedb, strict=True))
    print(f"\nCTranslate2 batches on one replica, first {len(windows)} pieces, batch {batch} (CPU s)\n")
    print("| step | one window per call | batched | pieces that differ |")
    print("|---|---:|---:|---:|")
    print(f"| encoder | {enc1:.2f} | {encb:.2f} | - |")
    print(f"| beam search (generate) | {gen1:.2f} | {genb:.2f} | {differ_gen} |")
    print(f"| word alignment (align + DTW) | {al1:.2f} | {alb:.2f} | {differ_align} |")


def service(data_dir: Path, batch_size: int, warm_up: bytes, model: str) -> Services:
    services = Services.build(Settings(data_dir=data_dir, auth=False, decode_batch_size=batch_size))
    prepared = services.recognition.prepare("bench", {"model": model})
    services.recognition.run(prepared, [(warm_up, "audio/flac")])  # loads the model
    return services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-size", type=int, default=Settings.model_fields["decode_batch_size"].default)
    parser.add_argument(
        "--broadband-processes",
        type=int,
        default=2,
        help="also decode en-US_BroadbandModel's pieces in this "
        "many processes (an experiment outside the service; 0: not)",
    )
    parser.add_argument(
        "--ct2-batches",
        type=int,
        default=0,
        metavar="PIECES",
        help="instead: CTranslate2 batches of --batch-size "
        "windows against single windows on the first PIECES pieces (CPU seconds, differences)",
    )
    args = parser.parse_args()
    path = make_file(args.minutes)
    audio = path.read_bytes()
    if args.ct2_batches:
        with tempfile.TemporaryDirectory(prefix="parlance-long-") as tmp:
            ct2_batches(Path(tmp), audio, args.ct2_batches, args.batch_size)
        return
    warm_up = make_file(0.25).read_bytes()
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {path.name}", flush=True)
    rows = []
    experiments = []
    with tempfile.TemporaryDirectory(prefix="parlance-long-") as tmp:
        for model in args.models.split(","):
            sides = []
            for batch_size in (1, args.batch_size):
                services = service(Path(tmp) / f"{model}-{batch_size}", batch_size, warm_up, model)
                try:
                    side = recognize(services, model, audio, batch_size)
                finally:
                    services.close()
                print(
                    f"# {model} batch {batch_size}: {side.wall:.1f} s wall, {side.cpu:.1f} s CPU, "
                    f"load {side.load[0]:.1f} -> {side.load[1]:.1f}",
                    flush=True,
                )
                sides.append(side)
            rows.append((model, *sides))
            if model == "en-US_BroadbandModel" and args.broadband_processes > 1:
                wall, cpu, texts = broadband_in_processes(Path(tmp) / "processes", audio, args.broadband_processes)
                same = " ".join(texts).split() == transcript(sides[0].results).split()
                experiments.append((args.broadband_processes, sides[0], wall, cpu, same))
                print(
                    f"# {model} in {args.broadband_processes} processes: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                    f"same transcript: {same}",
                    flush=True,
                )
    print(f"\n{args.minutes:g} min of audio ({path.name}); wall and CPU seconds of `RecognitionService.run`\n")
    print(
        "| model | results | sequential s (CPU s) | batched s (CPU s) | batch size | speed-up "
        "| same transcript | same results (timings) | load avg (seq, batched) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|---|")
    for model, seq, bat in rows:
        speed_up = seq.wall / bat.wall
        same_text = transcript(seq.results) == transcript(bat.results)
        diff = differing(seq.results, bat.results)
        print(
            f"| {model} | {len(seq.results)} | {seq.wall:.1f} ({seq.cpu:.1f}) | {bat.wall:.1f} ({bat.cpu:.1f}) "
            f"| {bat.batch_size} | {speed_up:.2f}x | {'yes' if same_text else 'NO'} "
            f"| {'yes' if diff == 0 else f'NO ({diff} differ)'} "
            f"| {seq.load[0]:.1f}-{seq.load[1]:.1f}, {bat.load[0]:.1f}-{bat.load[1]:.1f} |"
        )

    for processes, seq, wall, cpu, same in experiments:
        print(
            f"\nen-US_BroadbandModel's pieces in {processes} processes (experiment, not the service): {wall:.1f} s "
            f"({cpu:.1f} CPU s in the processes) against {seq.wall:.1f} s sequential: {seq.wall / wall:.2f}x, "
            f"same transcript: {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
