"""Peak memory of `parlance serve` while it recognizes short, long and hostile audio.

Starts `python -m parlance serve --no-auth` on a free port with its own data dir, then for each
case sends one request, synchronously (`POST /v1/recognize`) and streamed (the WebSocket
`/v1/recognize`, in 64 KB frames sent as fast as the socket takes them, `inactivity_timeout` -1
unless `--inactivity-timeout` says otherwise), and records the server's
peak RSS growth: VmHWM from /proc/PID/status after resetting it through /proc/PID/clear_refs, minus
VmRSS just before the request. Last, the idle server's RSS after the run against its RSS at start.

The audio is real speech, the LibriVox clips of Debian's pocketsphinx-testdata with one-second
pauses, looped by ffmpeg to length, written to bench/out/memory/ (ignored by git):
10 s and 10 min as FLAC, 30 s under 3 h (the duration limit; encoders pad a little) as Ogg Opus at
24 kbit/s (a 3 h FLAC is over the 100 MB body limit) and as MP3 at 32 kbit/s (whose header duration is
only an estimate, so it is decoded to the end), so that all of it is recognized,
and a 160 KB WAV whose header claims a 1 Hz sample rate. Model: en-US_BroadbandModel (pocketsphinx).
A first request (the 10 s file) loads the model before anything is measured.

    python bench/memory.py                      # all cases; the 10 min ones take a few minutes each
    python bench/memory.py --cases 10s,1hz      # a subset

Targets (issue 15): peak growth <= 300 MB in every case; the idle server within 100 MB of its start.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from websockets.sync.client import connect

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
OUT = Path(__file__).resolve().parent / "out" / "memory"
MODEL = "en-US_BroadbandModel"
FRAME_BYTES = 64 * 1024
PEAK_TARGET_MB, IDLE_TARGET_MB = 300, 100
MB = 1024 * 1024
THREE_HOURS = 3 * 3600 - 30  # just under the limit, so that the whole file is recognized


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    content_type: str
    audio: str  # what the file holds, for the table


@dataclass
class Row:
    case: Case
    mode: str
    status: str
    seconds: float
    peak_mb: float


# ---- audio ---------------------------------------------------------------------------------------


def make_cases(out: Path) -> dict[str, Case]:
    out.mkdir(parents=True, exist_ok=True)
    unit = out / "unit.wav"
    if not unit.exists():
        pause = np.zeros(16000, dtype=np.float32)
        clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))]
        sf.write(unit, np.concatenate([x for clip in clips for x in (clip, pause)]), 16000, subtype="PCM_16")
    cases = {
        "10s": Case("10s", out / "10s.flac", "audio/flac", "10 s FLAC 16 kHz"),
        "10min": Case("10min", out / "10min.flac", "audio/flac", "10 min FLAC 16 kHz"),
        "3h": Case("3h", out / "3h-under.ogg", "audio/ogg", "3 h Ogg Opus 24 kbit/s"),
        "3h-mp3": Case("3h-mp3", out / "3h-under.mp3", "audio/mp3", "3 h MP3 32 kbit/s"),
        "1hz": Case("1hz", out / "1hz.wav", "audio/wav", "160 KB WAV, header claims 1 Hz"),
    }
    for case, seconds, codec in (
        (cases["10s"], 10, ["-c:a", "flac"]),
        (cases["10min"], 600, ["-c:a", "flac"]),
        (cases["3h"], THREE_HOURS, ["-c:a", "libopus", "-b:a", "24k"]),
        (cases["3h-mp3"], THREE_HOURS, ["-c:a", "libmp3lame", "-b:a", "32k"]),
    ):
        if not case.path.exists():
            loop = ["ffmpeg", "-nostdin", "-loglevel", "error", "-stream_loop", "-1", "-i", str(unit)]
            subprocess.run([*loop, "-t", str(seconds), *codec, str(case.path)], check=True)
    if not cases["1hz"].path.exists():
        data = bytearray(unit.read_bytes()[: 44 + 160_000])
        data[24:32] = struct.pack("<II", 1, 2)  # sample rate 1 Hz, byte rate 2 (16-bit mono)
        data[40:44] = struct.pack("<I", len(data) - 44)
        cases["1hz"].path.write_bytes(bytes(data))
    return cases


# ---- server and its memory -----------------------------------------------------------------------


class Server:
    """`python -m parlance serve --no-auth` on a free port with a fresh data dir."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="parlance-memory-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(Path(self._tmp.name) / "server.log", "ab")  # noqa: SIM115 - closed in close()
        cmd = [sys.executable, "-m", "parlance", "serve", "--no-auth", "--port", str(self.port)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen([*cmd, "--data-dir", self._tmp.name], env=env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"the server did not come up; see {self._tmp.name}/server.log")

    def status_mb(self, field: str) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
        self._tmp.cleanup()


def recognize_sync(server: Server, case: Case) -> str:
    r = httpx.post(
        f"{server.url}/v1/recognize",
        params={"model": MODEL},
        content=case.path.read_bytes(),
        headers={"Content-Type": case.content_type},
        timeout=4 * 3600,
    )
    return str(r.status_code) if r.status_code == 200 else f"{r.status_code}: {r.json()['error']}"


def recognize_stream(server: Server, case: Case, inactivity_timeout: int) -> str:
    data = case.path.read_bytes()
    start = {"action": "start", "content-type": case.content_type, "inactivity_timeout": inactivity_timeout}
    with connect(f"ws://127.0.0.1:{server.port}/v1/recognize?model={MODEL}", max_size=None) as ws:
        ws.send(json.dumps(start))
        json.loads(ws.recv())  # listening
        try:
            for at in range(0, len(data), FRAME_BYTES):
                ws.send(data[at : at + FRAME_BYTES])
            ws.send(json.dumps({"action": "stop"}))
            reply = json.loads(ws.recv(timeout=4 * 3600))
        except Exception as exc:  # the server may close the socket while audio is still being sent
            return f"closed: {exc}"
    return f"error: {reply['error']}" if "error" in reply else f"{len(reply['results'])} results"


def measure(server: Server, case: Case, mode: str, run: Callable[[Server, Case], str]) -> Row:
    before = server.status_mb("VmRSS")
    server.reset_peak()
    started = time.perf_counter()
    status = run(server, case)
    seconds = time.perf_counter() - started
    return Row(case, mode, status, seconds, server.status_mb("VmHWM") - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases", default="10s,10min,3h,3h-mp3,1hz", help="comma-separated subset of 10s,10min,3h,3h-mp3,1hz"
    )
    parser.add_argument("--modes", default="sync,stream", help="comma-separated subset of sync,stream")
    parser.add_argument(
        "--inactivity-timeout",
        type=int,
        default=-1,
        help="for streamed requests; -1 (default) turns off the silence check, which decodes all the audio "
        "so far about once per second of audio; Watson's default is 30",
    )
    args = parser.parse_args()
    cases = make_cases(OUT)
    stream = functools.partial(recognize_stream, inactivity_timeout=args.inactivity_timeout)
    modes: dict[str, Callable[[Server, Case], str]] = {"sync": recognize_sync, "stream": stream}
    server = Server()
    rows: list[Row] = []
    try:
        fresh_mb = server.status_mb("VmRSS")
        recognize_sync(server, cases["10s"])  # loads the model
        start_mb = server.status_mb("VmRSS")
        for name in args.cases.split(","):
            for mode in args.modes.split(","):
                rows.append(measure(server, cases[name], mode, modes[mode]))
                row = rows[-1]
                print(f"# {name} {mode}: {row.status} in {row.seconds:.1f} s, peak +{row.peak_mb:.0f} MB", flush=True)
        time.sleep(5)
        idle_mb = server.status_mb("VmRSS")
    finally:
        server.close()
    print_table(rows, fresh_mb, start_mb, idle_mb)


def print_table(rows: list[Row], fresh_mb: float, start_mb: float, idle_mb: float) -> None:
    print("\n| audio | request | result | time (s) | peak RSS growth (MB) | target |")
    print("|---|---|---|---:|---:|---|")
    for r in rows:
        ok = "ok" if r.peak_mb <= PEAK_TARGET_MB else "**over**"
        status = r.status if len(r.status) < 90 else r.status[:87] + "..."
        print(
            f"| {r.case.audio} | {r.mode} | {status} | {r.seconds:.1f} | {r.peak_mb:.0f} | {ok} (<= {PEAK_TARGET_MB}) |"
        )
    grown = idle_mb - start_mb
    ok = "ok" if grown <= IDLE_TARGET_MB else "**over**"
    print(
        f"\nIdle server RSS: {fresh_mb:.0f} MB fresh, {start_mb:.0f} MB with the model loaded (the start), "
        f"{idle_mb:.0f} MB 5 s after the run ({grown:+.0f} MB, {ok} (<= {IDLE_TARGET_MB}))."
    )


if __name__ == "__main__":
    main()
