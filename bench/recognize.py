"""Recognition overhead: each engine through `parlance serve` vs. the same engine called directly.

    python bench/recognize.py [--repeat N] [--engines whisper,pocketsphinx] [--breakdown] [--docs FILE]

For every base model the script times the LibriVox clips of Debian's pocketsphinx-testdata
(5 clips, 16 kHz mono, ~25 s) two ways and prints a markdown table of real-time factors
(processing seconds / audio seconds):

* service: `python -m parlance serve` in a subprocess with a fresh data dir and API key; each clip
  is POSTed to `/v1/recognize?model=M` (Content-Type audio/wav, Basic apikey auth) one after
  another; wall-clock per request measured at the client (HTTP, WAV decoding, pause splitting,
  engine thread hop and JSON included).
* direct: the library the engine wraps, configured the way the engine configures it: plain
  faster-whisper `WhisperModel(...).transcribe(path)` for en-US_Multimedia, a plain
  `pocketsphinx.Decoder` over the whole clip for en-US_BroadbandModel.

Each side is warmed up once (one clip; model loading excluded on both sides). A pass decodes all
clips; there are `--repeat` passes per side, interleaved clip by clip with the order rotating (so
load from elsewhere on the machine hits both sides alike), and the RTF is the median over passes.
CPU seconds are counted too (the server process's for the service, this process's for direct).
The WER of each side (jiwer, after `whisper_eval.normalize`) shows both sides do the same work.
The target is service / direct <= 1.10. `--breakdown` adds Parlance's pipeline and engine timed
in-process, and `--docs FILE` writes the results into FILE's "Recognition overhead" section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
from whisper_eval import librivox_samples, normalize  # noqa: E402  (a sibling: bench/ is on sys.path)

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
TARGET = 1.10
SECTION = "## Recognition overhead"


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    reference: str
    seconds: float
    data: bytes


@dataclass
class Side:
    """Timings and transcripts of one way of running one engine."""

    passes: list[list[float]] = field(default_factory=list)  # wall-clock seconds per clip, per pass
    cpu: list[list[float]] = field(default_factory=list)  # CPU seconds per clip, per pass
    hypotheses: list[str] = field(default_factory=list)  # from the first timed pass

    def rtf(self, audio_seconds: float) -> float:
        """Median over passes of (pass wall-clock seconds / audio seconds)."""
        return statistics.median(sum(p) for p in self.passes) / audio_seconds

    def cpu_rtf(self, audio_seconds: float) -> float:
        return statistics.median(sum(p) for p in self.cpu) / audio_seconds


def load_clips(directory: Path) -> list[Clip]:
    refs = {s.wav.name: s.reference for s in librivox_samples(directory)}
    clips = []
    for path in sorted(directory.glob("*.wav")):
        with wave.open(str(path)) as w:
            if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise SystemExit(f"{path}: expected 16 kHz mono 16-bit PCM")
            seconds = w.getnframes() / w.getframerate()
        clips.append(Clip(path.stem, path, refs.get(path.name, ""), seconds, path.read_bytes()))
    if not clips:
        raise SystemExit(f"no clips in {directory}")
    return clips


# ---- service side --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python -m parlance serve` with a fresh data dir and an API key."""

    def __init__(self, port: int | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="parlance-bench-")
        data_dir = Path(self._tmp.name)
        env = {**os.environ, "PARLANCE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
        out = subprocess.run(
            [sys.executable, "-m", "parlance", "keys", "create", "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        self.apikey = json.loads(out.stdout)["apikey"]
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "parlance", "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        self.client = httpx.Client(base_url=self.url, auth=("apikey", self.apikey), timeout=300)
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; log in {self._tmp.name}/server.log")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"server at {self.url} did not come up")

    def recognize(self, model: str) -> Callable[[Clip], str]:
        def run(clip: Clip) -> str:
            r = self.client.post(
                "/v1/recognize", params={"model": model}, content=clip.data, headers={"Content-Type": "audio/wav"}
            )
            r.raise_for_status()
            return " ".join(res["alternatives"][0]["transcript"].strip() for res in r.json()["results"])

        return run

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
        self._tmp.cleanup()


# ---- direct side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Direct:
    transcribe: Callable[[Clip], str]
    settings: str  # for the table footer


def direct_whisper(aligned: bool = True) -> Direct:
    """Plain faster-whisper doing the work the engine does per utterance: one 30 s window encoded
    once, one beam search (the engine's beam size, temperature 0 since the engine has no
    temperature fallback) and one cross-attention word alignment (the engine always aligns the
    winner for word times and confidences), with the engine's compute type, threads and workers.

    `without_timestamps=True` (what the engine decodes: text tokens only) is NOT used: combined with
    `word_timestamps=True`, faster-whisper 1.2 moves its seek to the last aligned word's end
    and decodes the remaining tail of every clip as one more 30 s window (11 encoder passes and
    8 alignments instead of 5 and 5 on the LibriVox clips, ~2x the time, and a "Thank you."
    hallucinated on one tail). With timestamp tokens each clip is one window, like the engine.

    `aligned=False` is the cheapest plain configuration (text tokens only, no word alignment):
    less work than the engine does, a lower bound for `--breakdown`.
    """
    from faster_whisper import WhisperModel

    from parlance.engines.whisper import WhisperEngine, builtin_version

    version, engine = builtin_version(), WhisperEngine()
    compute_type = str(version.options.get("compute_type", "int8"))
    cpu_threads = int(version.options.get("cpu_threads", engine.cpu_threads))
    num_workers = int(version.options.get("num_workers", engine.num_workers))
    beam_size = int(version.options.get("beam_size", 5))
    model = WhisperModel(
        str(version.path),
        device="cpu",
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        num_workers=num_workers,
        local_files_only=True,
    )
    kwargs: dict[str, object] = dict(
        language="en",
        beam_size=beam_size,
        temperature=0.0,
        condition_on_previous_text=False,
        word_timestamps=True,
        vad_filter=False,
    )
    if not aligned:
        kwargs.update(without_timestamps=True, word_timestamps=False)

    def transcribe(clip: Clip) -> str:
        segments, _info = model.transcribe(str(clip.path), **kwargs)
        return " ".join(s.text.strip() for s in segments)

    settings = (
        f"faster-whisper `WhisperModel(compute_type={compute_type!r}, cpu_threads={cpu_threads}, "
        f"num_workers={num_workers})`, `transcribe(path, "
        + ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        + ")`, segments consumed; the engine (same compute type/threads/workers/beam) decodes "
        "text tokens only and aligns words on the winner"
    )
    return Direct(transcribe, settings)


def direct_pocketsphinx() -> Direct:
    """A plain `pocketsphinx.Decoder` with the wheel's default en-us model and the engine's
    non-default decoder options (`DEFAULT_DECODER`), reused across clips like the engine's pool;
    each clip is decoded whole (start_utt / process_raw(full_utt=True) / end_utt)."""
    from pocketsphinx import Decoder

    from parlance.engines.pocketsphinx.model import DEFAULT_DECODER

    options = {**DEFAULT_DECODER, "loglevel": "FATAL"}
    decoder = Decoder(**options)

    def transcribe(clip: Clip) -> str:
        with wave.open(str(clip.path)) as w:
            pcm = w.readframes(w.getnframes())
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    opts = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return Direct(
        transcribe,
        f"pocketsphinx `Decoder({opts})` (the wheel's default en-us model, cmudict-en-us.dict, en-us.lm.bin, "
        "as the engine), one reused decoder, `start_utt(); process_raw(pcm, full_utt=True); end_utt()` per clip",
    )


# ---- in-process layers (--breakdown) -------------------------------------------------------------


class InProcess:
    """Parlance's own layers in this process, to split the service time: the recognition pipeline
    without HTTP (WAV decoding, pause splitting, engine, Watson results; on the calling thread)
    and the engine alone on already decoded samples."""

    def __init__(self) -> None:
        from parlance.services.container import Services
        from parlance.settings import Settings

        self._tmp = tempfile.TemporaryDirectory(prefix="parlance-bench-inproc-")
        self.svc = Services.build(Settings(data_dir=Path(self._tmp.name)))

    def pipeline(self, model: str) -> Callable[[Clip], str]:
        prepared = self.svc.recognition.prepare("bench", {"model": model})

        def run(clip: Clip) -> str:
            result = self.svc.recognition.run(prepared, [(clip.data, "audio/wav")])
            return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])

        return run

    def engine(self, model: str, clips: list[Clip]) -> Callable[[Clip], str]:
        from parlance.audio.decode import decode_audio
        from parlance.engines.base import DecodeOptions

        loaded = self.svc.pool.model(self.svc.catalog.versions(model)[-1])
        samples = {c.name: decode_audio(c.data, "audio/wav") for c in clips}
        options = DecodeOptions()

        def run(clip: Clip) -> str:
            alternatives = loaded.transcribe(samples[clip.name], options)
            return alternatives[0].transcript if alternatives else ""

        return run

    def close(self) -> None:
        self.svc.close()
        self._tmp.cleanup()


# ---- measurement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """One way of recognizing a clip, and the CPU clock that counts its work."""

    run: Callable[[Clip], str]
    cpu: Callable[[], float]


def process_cpu(pid: int) -> Callable[[], float]:
    """CPU seconds (user + system, all threads) used so far by another process."""
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return read


def measure(sides: dict[str, Runner], clips: list[Clip], repeat: int) -> dict[str, Side]:
    """Warm each side up once, then time every clip on every side `repeat` times.

    Sides are interleaved clip by clip, with the order rotated on every clip and pass, so that
    load from elsewhere on the machine hits all sides alike.
    """
    results = {name: Side() for name in sides}
    for runner in sides.values():
        runner.run(clips[0])  # warm-up: loads the model on the server; first-call allocations
    names = list(sides)
    for r in range(repeat):
        walls: dict[str, list[float]] = {n: [] for n in names}
        cpus: dict[str, list[float]] = {n: [] for n in names}
        texts: dict[str, list[str]] = {n: [] for n in names}
        for i, clip in enumerate(clips):
            k = (r * len(clips) + i) % len(names)
            for name in names[k:] + names[:k]:
                runner = sides[name]
                c0, t0 = runner.cpu(), time.perf_counter()
                texts[name].append(runner.run(clip))
                walls[name].append(time.perf_counter() - t0)
                cpus[name].append(runner.cpu() - c0)
        for name in names:
            results[name].passes.append(walls[name])
            results[name].cpu.append(cpus[name])
            if not results[name].hypotheses:
                results[name].hypotheses = texts[name]
    return results


def wer(clips: list[Clip], hypotheses: list[str]) -> float:
    import jiwer

    return float(jiwer.wer([normalize(c.reference) for c in clips], [normalize(h) for h in hypotheses]))


MODELS = {
    "whisper": ("en-US_Multimedia", direct_whisper),
    "pocketsphinx": ("en-US_BroadbandModel", direct_pocketsphinx),
}


def table(rows: list[dict[str, float | str]], footers: list[str], audio: float, repeat: int) -> str:
    lines = [
        "| model (engine) | service RTF | direct RTF | service / direct | service CPU RTF | direct CPU RTF "
        "| CPU service / direct | service WER | direct WER |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = float(row["ratio"])
        verdict = "ok" if ratio <= TARGET else "over target"
        lines.append(
            f"| {row['model']} ({row['engine']}) | {row['service']:.3f} | {row['direct']:.3f} | "
            f"**{ratio:.3f}** ({ratio - 1:+.1%}, {verdict}) | {row['service_cpu']:.3f} | {row['direct_cpu']:.3f} | "
            f"{float(row['service_cpu']) / float(row['direct_cpu']):.3f} | {row['service_wer']:.1%} | "
            f"{row['direct_wer']:.1%} |"
        )
    lines += [
        "",
        f"RTF = wall-clock processing seconds / audio seconds, median over {repeat} passes over {audio:.1f} s "
        "of audio (the 5 LibriVox clips, one request at a time; both sides warmed up once, model load "
        "excluded; sides interleaved clip by clip). Service = `POST /v1/recognize` to `parlance serve`, "
        "timed at the client. CPU RTF = CPU seconds of the server process (service) or of the benchmark "
        "process (direct) / audio seconds, less sensitive to other load on the machine. WER: jiwer after "
        f"`whisper_eval.normalize`. Target: service / direct <= {TARGET:.2f}.",
        "",
    ]
    lines += [f"- {f}" for f in footers]
    return "\n".join(lines)


def breakdown_table(parts: list[tuple[str, dict[str, Side]]], audio: float) -> str:
    labels = {
        "service": "service (HTTP, `parlance serve`)",
        "pipeline": "pipeline in-process (decode + pause split + engine + results)",
        "engine": "engine in-process (`LoadedModel.transcribe` on samples)",
        "direct": "direct library (the table's configuration)",
        "direct-text": "direct faster-whisper, text only: `without_timestamps=True`, no word alignment",
    }
    lines = ["| model | layer | RTF | CPU RTF | vs direct |", "|---|---|---:|---:|---:|"]
    for model, res in parts:
        direct = res["direct"].rtf(audio)
        for name in labels:
            if name in res:
                r = res[name].rtf(audio)
                lines.append(
                    f"| {model} | {labels[name]} | {r:.3f} | {res[name].cpu_rtf(audio):.3f} | {r / direct:.3f} |"
                )
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, Linux {platform.release()}, Python {platform.python_version()}"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("faster-whisper", "ctranslate2", "pocketsphinx"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


DOC_NOTES = """\
How to read it: *service / direct* is the price of going through `parlance serve` (HTTP, WAV
decoding, pause splitting, the engine-thread hop, Watson JSON) over calling the library the engine
wraps; equal WERs show both sides decode the same words. On a shared or busy machine the
wall-clock RTFs of both sides rise together (sides are interleaved clip by clip, so the ratio
holds); the CPU columns are the steadier measure. `--breakdown` adds the in-process layers.

Fairness notes. Whisper: the direct side does the engine's work per clip (one 30 s window
encoded once, beam search at temperature 0 with the engine's beam size, one word alignment) with
the engine's compute type and threads. It decodes with timestamp tokens, which the engine does
not: plain faster-whisper 1.2 with `without_timestamps=True, word_timestamps=True` seeks to the
last aligned word and decodes each clip's tail as a second 30 s window (11 encoder passes instead
of 5 on these clips, about twice the time, and one hallucinated "Thank you."), so that setting
would flatter the service. PocketSphinx: the same decoder configuration as the engine
(`DEFAULT_DECODER`), with the wheel's default model files."""


def write_docs(path: Path, body: str) -> None:
    section = f"{SECTION}\n\n{body}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the clips per side (default 3)")
    ap.add_argument("--engines", default="whisper,pocketsphinx", help="comma-separated: whisper,pocketsphinx")
    ap.add_argument("--clips", type=Path, default=LIBRIVOX, help="directory of 16 kHz mono WAV clips")
    ap.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time Parlance's pipeline and engine in-process, to see where service time goes",
    )
    ap.add_argument("--docs", type=Path, default=None, help="also write the results into this markdown file")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in MODELS:
            ap.error(f"unknown engine {e!r}")
    clips = load_clips(args.clips)
    audio = sum(c.seconds for c in clips)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    own_cpu = time.process_time

    server = Server(args.port)
    inproc = InProcess() if args.breakdown else None
    rows: list[dict[str, float | str]] = []
    footers: list[str] = []
    parts: list[tuple[str, dict[str, Side]]] = []
    try:
        for engine in engines:
            model, make_direct = MODELS[engine]
            direct = make_direct()
            sides = {
                "service": Runner(server.recognize(model), process_cpu(server.proc.pid)),
                "direct": Runner(direct.transcribe, own_cpu),
            }
            if inproc is not None:
                sides["pipeline"] = Runner(inproc.pipeline(model), own_cpu)
                sides["engine"] = Runner(inproc.engine(model, clips), own_cpu)
                if engine == "whisper":
                    sides["direct-text"] = Runner(direct_whisper(aligned=False).transcribe, own_cpu)
            print(f"{model}: timing {len(sides)} sides x {args.repeat} passes ...", file=sys.stderr, flush=True)
            res = measure(sides, clips, args.repeat)
            s, d = res["service"].rtf(audio), res["direct"].rtf(audio)
            rows.append(
                {
                    "model": model,
                    "engine": engine,
                    "service": s,
                    "direct": d,
                    "ratio": s / d,
                    "service_cpu": res["service"].cpu_rtf(audio),
                    "direct_cpu": res["direct"].cpu_rtf(audio),
                    "service_wer": wer(clips, res["service"].hypotheses),
                    "direct_wer": wer(clips, res["direct"].hypotheses),
                }
            )
            for name, side in res.items():
                per_pass = ", ".join(f"{sum(p):.2f}" for p in side.passes)
                print(f"  {name}: pass totals {per_pass} s; WER {wer(clips, side.hypotheses):.1%}", file=sys.stderr)
            parts.append((model, res))
            footers.append(f"{model} direct: {direct.settings}")
    finally:
        server.close()
        if inproc is not None:
            inproc.close()

    load = f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    footers.append(f"Machine: {machine()}; {versions()}; {load}")
    out = table(rows, footers, audio, args.repeat)
    if args.breakdown:
        out += "\n\nWhere the time goes (same run):\n\n" + breakdown_table(parts, audio)
    command = "python bench/recognize.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    print(out)
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if args.docs:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_docs(args.docs, f"`{command}` ({stamp})\n\n{out}\n\n{DOC_NOTES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
