"""Streaming recognition over the WebSocket `/v1/recognize`, at real-time pace, per model.

Starts `python -m parlance serve --no-auth` (as bench/memory.py) and streams a long recording made of
the LibriVox clips of Debian's pocketsphinx-testdata, each followed by a pause of 1.2 to 2.0 s (seeded),
as `audio/l16;rate=16000` in 100 ms frames sent at real-time pace, with `interim_results` and
`timestamps`. Measured, per model:

- final latency: from the end of a phrase's speech (the last 30 ms frame within 35 dB of the clip's
  loudest) to the arrival of its final result; it includes `end_of_phrase_silence_time` (0.8 s);
- first interim: from the start of a phrase's speech to its first interim result;
- interim interval: between consecutive interim results of one phrase;
- CPU seconds of the server per second of audio (utime + stime of the server process);
- WER of the streamed final results and of `POST /v1/recognize` on the same audio, against the clips'
  reference transcripts;
- the server's RSS at 1, 5 and 10 minutes of audio (or at the end of a shorter stream).

    python bench/streaming.py                       # both models, 10 minutes each (~25 min)
    python bench/streaming.py --minutes 2 --models en-US_BroadbandModel

Targets (issue 16): final <= 1.5 s (en-US_Multimedia) / <= 1.0 s (en-US_BroadbandModel) after the phrase
ends; first interim <= 1.5 s / <= 0.5 s; RSS at 10 min within 50 MB of 1 min; WER within 1 point of sync.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf
from memory import Server  # a sibling: `python bench/streaming.py` puts bench/ on sys.path
from websockets.sync.client import connect
from whisper_eval import librivox_samples, percent_wer, results_transcript

RATE = 16000
FRAME_SECONDS = 0.1
MODELS = ("en-US_BroadbandModel", "en-US_Multimedia")
TARGETS = {"en-US_BroadbandModel": (1.0, 0.5), "en-US_Multimedia": (1.5, 1.5)}  # final, first interim (s)
MEMORY_AT = (60, 300, 600)
MATCH_SLACK = 0.5  # s around a phrase within which a result's middle places it there
SHOW_SLOWEST = 8  # phrases listed with the longest final latency (and half as many with the latest interim)


@dataclass
class Phrase:
    start: float  # speech start and end in the stream (s)
    end: float
    reference: str
    clip: str = ""


@dataclass
class Stream:
    pcm: bytes
    phrases: list[Phrase]  # those whose speech ends within the stream
    cut: int = 0  # phrases whose speech the stream's end cuts off (each gives a final result of its own)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE


@dataclass
class Run:
    model: str
    finals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (arrival s, message)
    interims: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rss_mb: dict[int, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    error: str = ""


def speech_span(clip: np.ndarray) -> tuple[float, float]:
    frames = clip[: len(clip) // 480 * 480].reshape(-1, 480)
    db = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)), 1e-5))
    loud = np.flatnonzero(db > db.max() - 35)
    return loud[0] * 0.03, (loud[-1] + 1) * 0.03


def make_stream(seconds: float) -> Stream:
    samples, rng = librivox_samples(), random.Random(16)
    parts, phrases, at = [], [], 0.0
    while at < seconds:
        for s in samples:
            clip = sf.read(s.wav, dtype="float32")[0]
            first, last = speech_span(clip)
            phrases.append(Phrase(at + first, at + last, s.reference, s.wav.stem))
            pause = np.zeros(int(rng.uniform(1.2, 2.0) * RATE), dtype=np.float32)
            parts += [clip, pause]
            at += (len(clip) + len(pause)) / RATE
    audio = np.concatenate(parts)[: int(seconds * RATE)]
    cut = sum(1 for p in phrases if p.start < seconds <= p.end)
    phrases = [p for p in phrases if p.end < seconds]
    return Stream((audio * 32767).astype("<i2").tobytes(), phrases, cut)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime in clock ticks (USER_HZ = 100)


def stream_once(server: Server, model: str, audio: Stream) -> Run:
    run = Run(model)
    start = {"action": "start", "content-type": "audio/l16;rate=16000", "interim_results": True, "timestamps": True}
    with connect(f"ws://127.0.0.1:{server.port}/v1/recognize?model={model}", max_size=None) as ws:
        ws.send(json.dumps(start))
        json.loads(ws.recv())  # listening
        cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
        frame = int(FRAME_SECONDS * RATE) * 2

        def send() -> None:
            memory_at = list(MEMORY_AT)
            for k, at in enumerate(range(0, len(audio.pcm), frame)):
                time.sleep(max(0.0, t0 + k * FRAME_SECONDS - time.perf_counter()))
                ws.send(audio.pcm[at : at + frame])
                if memory_at and (k + 1) * FRAME_SECONDS >= memory_at[0]:
                    run.rss_mb[memory_at.pop(0)] = server.status_mb("VmRSS")
            run.rss_mb.setdefault(round(audio.seconds), server.status_mb("VmRSS"))
            ws.send(json.dumps({"action": "stop"}))

        sender = threading.Thread(target=send)
        sender.start()
        while True:
            message = json.loads(ws.recv())
            arrived = time.perf_counter() - t0
            if "error" in message:
                run.error = message["error"]
                break
            if message.get("state") == "listening":
                break
            if message["results"]:
                (run.finals if message["results"][0]["final"] else run.interims).append((arrived, message))
        sender.join()
        run.cpu_seconds = cpu_seconds(server.proc.pid) - cpu0
    return run


def phrase_of(result: dict[str, Any], phrases: list[Phrase]) -> Phrase | None:
    stamps = result["alternatives"][0].get("timestamps") or []
    if not stamps:
        return None
    mid = (stamps[0][1] + stamps[-1][2]) / 2
    # a result in none of the phrases (speech cut off at the stream's end) has no phrase end to measure from
    return next((p for p in phrases if p.start - MATCH_SLACK <= mid <= p.end + MATCH_SLACK), None)


def summarize(run: Run, audio: Stream, sync: list[dict[str, Any]]) -> dict[str, Any]:
    finals = {m["result_index"]: (t, m["results"][0]) for t, m in run.finals}
    final_latency, first_interim, intervals, slowest = [], [], [], []
    for index, (t, result) in finals.items():
        phrase = phrase_of(result, audio.phrases)
        if phrase is None:
            continue
        final_latency.append(t - phrase.end)
        times = [ti for ti, m in run.interims if m["result_index"] == index]
        if times:
            first_interim.append(times[0] - phrase.start)
            intervals += list(np.diff(times))
        slowest.append((t - phrase.end, times[0] - phrase.start if times else None, index, phrase))
    late = sorted((row for row in slowest if row[1] is not None), key=lambda row: -row[1])[: SHOW_SLOWEST // 2]
    slowest.sort(key=lambda row: -row[0])
    reference = " ".join(p.reference for p in audio.phrases)
    streamed = results_transcript([r for _, r in sorted(finals.values(), key=lambda x: x[0])])
    return {
        "final_latency": final_latency,
        "first_interim": first_interim,
        "intervals": intervals,
        "cpu_per_audio_second": run.cpu_seconds / audio.seconds,
        "wer_stream": percent_wer(reference, streamed),
        "wer_sync": percent_wer(reference, results_transcript(sync)),
        "finals": len(run.finals),
        "phrases": len(audio.phrases),
        "cut_by_the_end": audio.cut,
        "slowest": slowest[:SHOW_SLOWEST],
        "late_interims": late,
    }


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.median(values):.2f} / {np.percentile(values, 90):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    audio = make_stream(args.minutes * 60)
    rows = []
    for model in args.models.split(","):
        server = Server()
        try:
            prime = httpx.post(  # loads the model before anything is measured
                f"{server.url}/v1/recognize",
                params={"model": model},
                content=audio.pcm[: 5 * 2 * RATE],
                headers={"Content-Type": "audio/l16;rate=16000"},
                timeout=600,
            )
            prime.raise_for_status()
            run = stream_once(server, model, audio)
            sync = httpx.post(
                f"{server.url}/v1/recognize",
                params={"model": model},
                content=audio.pcm,
                headers={"Content-Type": "audio/l16;rate=16000"},
                timeout=3600,
            ).json()["results"]
        finally:
            server.close()
        summary = summarize(run, audio, sync)
        rows.append((model, run, summary))
        print(f"# {model}: {json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)})}", flush=True)
        if run.error:
            print(f"# {model}: error {run.error}", flush=True)
        for latency, interim, index, phrase in summary["slowest"] + summary["late_interims"]:
            first = "-" if interim is None else f"{interim:.2f}"
            print(
                f"#   result {index}: final {latency:.2f} s, first interim {first} s; {phrase.clip} "
                f"at {phrase.start:.1f}-{phrase.end:.1f} s",
                flush=True,
            )
    print(f"\n{args.minutes:g} min stream, {len(audio.phrases)} phrases; latencies as median / p90 / max (s)\n")
    print(
        "| model | final after phrase end | first interim after speech start | interim interval "
        "| CPU s per audio s | WER stream / sync (%) | RSS MB at "
        + ", ".join(f"{m // 60} min" for m in MEMORY_AT)
        + " |"
    )
    print("|---|---|---|---|---:|---|---|")
    for model, run, s in rows:
        final_target, interim_target = TARGETS[model]
        rss = ", ".join(f"{run.rss_mb[m]:.0f}" for m in sorted(run.rss_mb))
        print(
            f"| {model} | {stats(s['final_latency'])} (target <= {final_target}) "
            f"| {stats(s['first_interim'])} (target <= {interim_target}) | {stats(s['intervals'])} "
            f"| {s['cpu_per_audio_second']:.2f} | {s['wer_stream']:.1f} / {s['wer_sync']:.1f} | {rss} |"
        )


if __name__ == "__main__":
    main()
