"""Sentence accuracy of grammar-constrained recognition on both base models.

In-grammar utterances (digit strings, commands, card phrases sampled from the grammars with a fixed
seed) are spoken by the three synth.sh voices and recognized with `grammar_name` through Parlance's
service layer; plus the real `cards` recordings of pocketsphinx-testdata.

    python bench/grammars.py [--sentences 36] [--seed 7] [--models ...] [--verbose] [--testdata tests/data]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from parlance.customization.srgs import compile_grammar
from parlance.services.container import Services
from parlance.settings import Settings

MODELS = ("en-US_BroadbandModel", "en-US_Multimedia")
VOICES = ("slt", "rms", "en")
CARDS = Path("/usr/share/pocketsphinx/test/data/cards")
GRAMMARS = {
    "digits": """#ABNF 1.0;
root $digits;
public $digits = $digit <1-10>;
$digit = zero | one | two | three | four | five | six | seven | eight | nine | oh;
""",
    "commands": """#ABNF 1.0;
root $command;
public $command = yes | no | cancel | repeat that | go back | start over;
""",
    "cards": """#ABNF 1.0;
root $cards;
public $cards = $card <1-3> | $rank $card | $rank $rank;
$card = $rank [of] $suit;
$suit = clubs | hearts | diamonds | spades;
$rank = ace | two | three | four | five | six | seven | eight | nine | ten | jack | queen | king | lady;
""",
}


def sentences(total: int, seed: int = 7) -> list[tuple[str, str]]:
    """(grammar, sentence) pairs: a fixed-seed sample, a third from each grammar, no duplicates."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for name, text in GRAMMARS.items():
        grammar = compile_grammar(text, "application/srgs")
        seen: set[str] = set()
        for _ in range(1000):
            if len(seen) >= total // len(GRAMMARS):
                break
            words = grammar.sample(rng, 1)[0]
            if 0 < len(words) <= 6:
                seen.add(" ".join(words))
        out += [(name, s) for s in sorted(seen)]
    return out


def synth(script: Path, cache: Path, voice: str, text: str) -> bytes:
    out = cache / f"{voice}-{re.sub(r'[^a-z]+', '_', text)}.wav"
    if not out.exists():
        subprocess.run(["bash", str(script), voice, str(out), text], check=True)
    return out.read_bytes()


def wait(svc: Services, owner: str, cid: str, statuses: set[str]) -> dict:
    while (m := svc.customizations.get(owner, cid))["status"] not in statuses:
        time.sleep(0.05)
    return m


def trained(svc: Services, owner: str, base: str) -> str:
    cid = svc.customizations.create(owner, {"name": f"grammars-{base}", "base_model_name": base})
    for name, text in GRAMMARS.items():
        svc.grammars.add(owner, cid, name, text.encode(), False, "application/srgs")
        wait(svc, owner, cid, {"ready"})
    svc.customizations.train(owner, cid, {})
    if wait(svc, owner, cid, {"available", "failed"})["status"] != "available":
        raise RuntimeError("training failed")
    return cid


def recognize(svc: Services, owner: str, base: str, cid: str, grammar: str, audio: bytes) -> str:
    params = {"model": base, "language_customization_id": cid, "grammar_name": grammar}
    result = asyncio.run(svc.recognition.recognize(owner, [(audio, "audio/wav")], params))
    return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data")
    ap.add_argument("--sentences", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7, help="another seed gives other sentences (a check on tuning)")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--verbose", action="store_true", help="print every wrong sentence")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "parlance-bench-grammars")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    items = sentences(args.sentences, args.seed)
    compiled = {n: compile_grammar(t, "application/srgs") for n, t in GRAMMARS.items()}
    cards = {
        m.group(2): m.group(1)
        for line in (CARDS / "cards.transcription").read_text().splitlines()
        if (m := re.fullmatch(r"<s>\s*(.*?)\s*</s>\s*\((\d+)\)", line.strip()))
    }
    lines = [
        "| model | "
        + " | ".join(f"{v} voice" for v in VOICES)
        + " | all synthesized | cards (real speech) | s / utterance |",
        "|---|" + "---|" * (len(VOICES) + 3),
    ]
    with tempfile.TemporaryDirectory() as data:
        svc = Services.build(Settings(data_dir=Path(data), auth=False))
        svc.start()
        owner = svc.auth.ensure_dev_instance()
        try:
            for base in args.models:
                cid = trained(svc, owner, base)
                right: dict[str, int] = defaultdict(int)
                outside, seconds = 0, 0.0
                for voice in VOICES:
                    for grammar, text in items:
                        audio = synth(args.testdata / "synth.sh", args.cache, voice, text)
                        started = time.perf_counter()
                        got = recognize(svc, owner, base, cid, grammar, audio)
                        seconds += time.perf_counter() - started
                        right[voice] += got == text
                        if args.verbose and got != text:
                            print(f"  {base} {voice} {grammar}: {text!r} -> {got!r}", flush=True)
                        outside += bool(got) and not compiled[grammar].accepts(got.split())
                real = sum(
                    recognize(svc, owner, base, cid, "cards", (CARDS / f"{k}.wav").read_bytes()) == ref
                    for k, ref in cards.items()
                )
                n = len(items)
                cells = [f"{right[v] / n:.1%} ({right[v]}/{n})" for v in VOICES]
                total = sum(right.values())
                lines.append(
                    f"| {base} | " + " | ".join(cells) + f" | {total / (n * len(VOICES)):.1%} | {real}/{len(cards)} "
                    f"| {seconds / (n * len(VOICES)):.2f} |"
                )
                print(lines[-1], f"(phrases outside the grammar: {outside})", flush=True)
        finally:
            svc.close()
    print(f"\n{len(items)} in-grammar sentences x {len(VOICES)} voices per model; exact sentence match")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
