"""Why PocketSphinx's streamed finals differ from `recognize`: cepstral mean normalization, measured.

A phrase decoded whole is normalized by the cepstral mean of its speech; a live decoder (the WebSocket)
cannot know that mean until the speech ends, and starts from an estimate. Per set of phrases (one speaker each, in
order, as one stream), WER of:

- whole: each phrase decoded at once, as `recognize` does;
- live, chained: fed in 100 ms pieces, each phrase starting from the mean the previous one ended with and
  the first from its own first second, as `services/recognition_stream.py` does;
- live, own mean: fed in pieces but started from the mean of the phrase's speech (`channel_of`, known once
  the speech ends): it equals "whole", so the mean is the whole difference.

    python bench/live_cmn.py            # LibriVox clips, and flite voices on a domain's corpus sentences
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from whisper_eval import (
    librivox_samples,
    normalize,
    percent_wer,
)  # a sibling: `python bench/live_cmn.py` puts bench/ on sys.path

from parlance.audio.vad import TRAILING_PAD
from parlance.engines.base import DecodeOptions
from parlance.engines.pocketsphinx import PocketSphinxEngine
from parlance.engines.pocketsphinx.version import builtin_version

ROOT = Path(__file__).resolve().parents[1]
SYNTH = ROOT / "tests" / "data" / "synth.sh"
PIECE = 1600  # samples fed at a time (100 ms), as the WebSocket's frames
PRIME = 16000  # the first phrase's first second


def live(model: Any, audio: np.ndarray, channel: str | None) -> tuple[str, str | None]:
    utterance = model.open_utterance(DecodeOptions(), channel)
    for i in range(0, len(audio), PIECE):
        utterance.feed(audio[i : i + PIECE])
    alternatives = utterance.finish()
    return (alternatives[0].transcript if alternatives else ""), utterance.channel


def compare(model: Any, phrases: list[tuple[np.ndarray, str]]) -> dict[str, float]:
    whole = [model.transcribe(a, DecodeOptions(), speech=len(a) - TRAILING_PAD) for a, _ in phrases]
    chained, channel = [], None
    for audio, _ in phrases:
        if channel is None:
            _, channel = live(model, audio[:PRIME], None)
        text, channel = live(model, audio, channel)
        chained.append(text)
    own = [live(model, a, model.channel_of(a[: len(a) - TRAILING_PAD], DecodeOptions()))[0] for a, _ in phrases]
    reference = " ".join(r for _, r in phrases)

    def wer(texts: list[str]) -> float:
        return percent_wer(reference, " ".join(texts))

    return {
        "whole": wer([w[0].transcript if w else "" for w in whole]),
        "live, chained": wer(chained),
        "live, own mean": wer(own),
        "words": len(normalize(reference).split()),
    }


def synthesized(voice: str, sentences: list[str]) -> list[tuple[np.ndarray, str]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(sentences):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["bash", str(SYNTH), voice, str(wav), text], check=True)
            audio = sf.read(wav, dtype="float32")[0]
            pad = np.zeros(4000, dtype=np.float32)  # a quarter second each side, as a segment's padding
            out.append((np.concatenate([pad, audio, pad]), text))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", default="places_people", help="tests/data/domains/<domain>/corpus.txt")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--voices", default="slt,rms,awb,kal16")
    args = parser.parse_args()
    model = PocketSphinxEngine().load(builtin_version())
    sets = {"LibriVox (5 clips)": [(sf.read(s.wav, dtype="float32")[0], s.reference) for s in librivox_samples()]}
    corpus = (ROOT / "tests" / "data" / "domains" / args.domain / "corpus.txt").read_text().splitlines()
    for voice in args.voices.split(","):
        sets[f"{voice} (flite), {args.sentences} {args.domain} sentences"] = synthesized(
            voice, corpus[: args.sentences]
        )
    print("| phrases | words | whole (recognize) | live, chained (stream) | live, own mean |")
    print("|---|---:|---:|---:|---:|")
    for name, phrases in sets.items():
        r = compare(model, phrases)
        print(
            f"| {name} | {r['words']:.0f} | {r['whole']:.1f} | {r['live, chained']:.1f} | {r['live, own mean']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
