"""Recognitions per second of `parlance serve` with 1, 2 and 4 concurrent clients, for both models,
with engine threads and with engine processes, in one run.

For each engine mode it starts `python -m parlance serve --no-auth` (its own data dir, PARLANCE_ENGINE_MODE,
PARLANCE_ENGINE_WORKERS = the machine's cores unless --workers), loads both models with one request each, then
for each model and client count has every client send the five LibriVox clips of Debian's
pocketsphinx-testdata (`POST /v1/recognize`, 25 s of audio together) `--rounds` times, all clients at once,
and reports recognitions per second over the wall time, and the speed-up over one client.

    python bench/throughput.py                   # both modes, both models, 1/2/4 clients
    python bench/throughput.py --modes processes --models en-US_BroadbandModel --rounds 2

Target (issue 12): en-US_BroadbandModel with 2 clients >= 1.7x its 1-client throughput with engine
processes on 2 cores. PocketSphinx holds the GIL while decoding, so with threads it stays near 1x.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
MODELS = ("en-US_BroadbandModel", "en-US_Multimedia")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(mode: str, workers: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PARLANCE_DATA_DIR": str(data_dir),
        "PARLANCE_ENGINE_MODE": mode,
        "PARLANCE_ENGINE_WORKERS": str(workers),
        "PARLANCE_ENGINE_QUEUE": "16",
        "HF_HUB_OFFLINE": "1",
    }
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "parlance", "serve", "--no-auth", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start; see {data_dir / 'server.log'}")


def recognize(client: httpx.Client, url: str, model: str, audio: bytes) -> None:
    r = client.post(
        f"{url}/v1/recognize", params={"model": model}, content=audio, headers={"Content-Type": "audio/wav"}
    )
    r.raise_for_status()


def run_clients(url: str, model: str, clips: list[bytes], clients: int, rounds: int) -> float:
    """Recognitions per second with `clients` clients each sending every clip `rounds` times."""

    def one_client(offset: int) -> int:
        with httpx.Client(timeout=600) as client:
            order = clips[offset % len(clips) :] + clips[: offset % len(clips)]  # clients start on different clips
            for _ in range(rounds):
                for audio in order:
                    recognize(client, url, model, audio)
        return rounds * len(clips)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(one_client, range(clients)))
    return done / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="threads,processes")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--clients", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    clips = [p.read_bytes() for p in sorted(LIBRIVOX.glob("*.wav"))]
    print(f"{len(clips)} clips, {args.workers} engine workers, {os.cpu_count()} cores, {args.rounds} round(s)")
    print(f"{'mode':<10} {'model':<22} {'clients':>7} {'rec/s':>7} {'x 1 client':>10}")
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory(prefix="parlance-throughput-") as tmp:
            proc, url = start_server(mode, args.workers, Path(tmp))
            try:
                models = args.models.split(",")
                for model in models:  # load every model in every engine process (concurrent requests) first
                    run_clients(url, model, clips[1:2], args.workers * 2, 1)
                for model in models:
                    base = None
                    for clients in (int(c) for c in args.clients.split(",")):
                        rate = run_clients(url, model, clips, clients, args.rounds)
                        base = base or rate
                        print(f"{mode:<10} {model:<22} {clients:>7} {rate:>7.2f} {rate / base:>9.2f}x", flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
