"""What a custom language model buys, per base model, through Parlance's service layer.

For each base model: WER and custom-term recall on the finance test set (tests.tsv spoken by the three
synth.sh voices) without and with a custom model trained on corpus.txt + words.json; general-speech WER
on the LibriVox clips without and with the custom model; training seconds (finance set and a
1-million-word corpus). Peers in the same run: plain faster-whisper (same tiny.en weights) given every
custom word as `hotwords` and as `initial_prompt`.

    python bench/customization.py [--testdata tests/data] [--skip-1m]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from whisper_eval import (  # a sibling: `python bench/customization.py` puts bench/ on sys.path
    Report,
    evaluate,
    faster_whisper_peer,
    finance_samples,
    librivox_samples,
)

from parlance.engines.whisper import model_dir
from parlance.services.container import Services
from parlance.settings import Settings

MODELS = ("en-US_Multimedia", "en-US_BroadbandModel")


def wav_bytes(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def service_transcriber(svc: Services, owner: str, model: str, cid: str | None):  # type: ignore[no-untyped-def]
    params = {"model": model, **({"language_customization_id": cid} if cid else {})}

    def transcribe(audio: np.ndarray) -> str:
        result = asyncio.run(svc.recognition.recognize(owner, [(wav_bytes(audio), "audio/wav")], params))
        return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])

    return transcribe


def wait_status(svc: Services, owner: str, cid: str, statuses: set[str]) -> dict:
    while (model := svc.customizations.get(owner, cid))["status"] not in statuses:
        time.sleep(0.02)
    return model


def train(svc: Services, owner: str, base: str, corpus: bytes, words: dict, name: str) -> tuple[str, float]:
    """Create, add data, train; returns the id and the seconds from the train call to `available`."""
    cid = svc.customizations.create(owner, {"name": name, "base_model_name": base})
    svc.corpora.add(owner, cid, "corpus", corpus, False)
    wait_status(svc, owner, cid, {"ready", "pending"})
    while svc.corpora.get(owner, cid, "corpus")["status"] == "being_processed":
        time.sleep(0.02)
    svc.words.add_many(owner, cid, words)
    wait_status(svc, owner, cid, {"ready"})
    started = time.perf_counter()
    svc.customizations.train(owner, cid, {})
    model = wait_status(svc, owner, cid, {"available", "failed"})
    seconds = time.perf_counter() - started
    if model["status"] != "available":
        raise RuntimeError(f"training failed: {model.get('error')}")
    return cid, seconds


def million_word_corpus(corpus: str) -> bytes:
    lines = [ln for ln in corpus.splitlines() if ln.strip()]
    rng, out, n = random.Random(0), [], 0
    while n < 1_000_000:
        line = rng.choice(lines)
        out.append(line)
        n += len(line.split())
    return "\n".join(out).encode()


def row(name: str, r: Report, general: Report | None = None, train_s: str = "") -> str:
    gen = f"{general.wer:.1%}" if general else ""
    return f"| {name} | {r.wer:.1%} | {r.term_recall:.1%} ({r.terms_found}/{r.terms_total}) | {gen} | {train_s} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "parlance-bench-finance")
    ap.add_argument("--skip-1m", action="store_true", help="skip the 1-million-word training measurement")
    args = ap.parse_args()
    finance = args.testdata / "finance"
    samples = finance_samples(finance, args.cache)
    general = librivox_samples()
    corpus = (finance / "corpus.txt").read_bytes()
    words = json.loads((finance / "words.json").read_text())
    custom_words = [w.get("display_as") or w["word"] for w in words["words"]]

    with tempfile.TemporaryDirectory() as data:
        svc = Services.build(Settings(data_dir=Path(data), auth=False))
        svc.start()
        owner = svc.auth.ensure_dev_instance()
        lines = ["| system | finance WER | custom term recall | LibriVox WER | training |", "|---|---|---|---|---|"]
        try:
            for base in MODELS:
                cid, seconds = train(svc, owner, base, corpus, words, f"bench-{base}")
                big = ""
                if not args.skip_1m:
                    _, big_s = train(svc, owner, base, million_word_corpus(corpus.decode()), words, f"1m-{base}")
                    big = f"; 1M words {big_s:.1f} s"
                plain = service_transcriber(svc, owner, base, None)
                custom = service_transcriber(svc, owner, base, cid)
                lines.append(row(f"{base} base", evaluate(plain, samples), evaluate(plain, general)))
                lines.append(
                    row(
                        f"{base} + custom model",
                        evaluate(custom, samples),
                        evaluate(custom, general),
                        f"{seconds:.1f} s{big}",
                    )
                )
                print("\n".join(lines[-2:]), flush=True)
        finally:
            svc.close()
    for mode in ("hotwords", "initial_prompt"):
        peer = faster_whisper_peer(model_dir(), custom_words, mode)
        lines.append(
            row(f"faster-whisper tiny.en + all words as {mode}", evaluate(peer, samples), evaluate(peer, general))
        )
    print()
    print(
        f"finance: {len(samples)} utterances ({len(samples) // 3} sentences x 3 voices); LibriVox: {len(general)} clips"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
