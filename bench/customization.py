"""What a custom language model buys, per domain and voice, against what users can do alone.

Domains: every directory of tests/data/domains (words.json, corpus.txt, tests.tsv; see tests/data/README.md).
Each test sentence is spoken by each voice of tests/data/synth.sh (synthesized once into --cache). Systems,
all on the same clips in the same run:

    mm, bb                 en-US_Multimedia / en-US_BroadbandModel without a custom model
    mm-custom, bb-custom   the same with a custom model trained (through the service layer, as the API
                           does) on the domain's corpus.txt + words.json
    mm-distract, bb-distract   the same with --distractors N rare words added to the custom words
    fw-hotwords, fw-prompt     plain faster-whisper (the same tiny.en weights) given every custom word of
                               the domain as `hotwords` / as `initial_prompt`

Per domain and voice: custom-term recall and WER. General speech: WER on the LibriVox clips of
pocketsphinx-testdata with each domain's custom model. False alarms: custom words of a domain's model
found in transcripts of speech that does not contain them (the other domains' sentences in the
--fa-voices, plus LibriVox), per 100 utterances. Time: summed seconds of the recognition calls on the
domain clips, against the base model's on the same clips.

Distractors are real but rare English words (CMUdict entries that Whisper's tokenizer splits into at least
three pieces), drawn with a fixed seed from those that occur in no domain file and no reference.

    nice -n 19 python bench/customization.py [--domains law,software] [--voices slt,awb]
        [--systems mm,mm-custom,fw-prompt] [--distractors 1000] [--fa-voices slt] [--fa-sentences 8] [--workers 2]
        [--results /tmp/run.jsonl [--report-only]]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from whisper_eval import (  # a sibling: `python bench/customization.py` puts bench/ on sys.path
    Sample,
    faster_whisper_peer,
    finance_samples,
    librivox_samples,
    normalize,
    read_wav,
    term_hits,
)

from parlance.engines.whisper import model_dir
from parlance.services.container import Services
from parlance.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
VOICES = ("slt", "rms", "awb", "kal16", "kal", "en", "en-gb", "en-f")
SYSTEMS = ("mm", "mm-custom", "mm-distract", "bb", "bb-custom", "bb-distract", "fw-hotwords", "fw-prompt")
BASE = {"mm": "en-US_Multimedia", "bb": "en-US_BroadbandModel"}

Transcriber = Callable[[np.ndarray], str]


@dataclass(frozen=True)
class Domain:
    name: str
    words: list[dict]
    corpus: str
    samples: list[Sample]

    @property
    def displays(self) -> list[str]:
        return [w.get("display_as") or w["word"] for w in self.words]


def load_domains(root: Path, names: Sequence[str] | None, voices: Sequence[str], cache: Path) -> list[Domain]:
    found = sorted(p for p in root.iterdir() if (p / "tests.tsv").exists())
    if names:  # in the order given
        if missing := set(names) - {p.name for p in found}:
            raise SystemExit(f"unknown domains: {sorted(missing)}")
        found = [root / name for name in names]
    return [
        Domain(
            p.name,
            json.loads((p / "words.json").read_text())["words"],
            (p / "corpus.txt").read_text(),
            finance_samples(p, cache, voices, DATA / "synth.sh"),
        )
        for p in found
    ]


def distractor_words(n: int, seed: int, exclude: set[str]) -> list[dict]:
    """n rare English words (CMUdict, >= 3 Whisper tokens), none of them in `exclude`, drawn with `seed`."""
    if n <= 0:
        return []
    import pocketsphinx
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    words = sorted(
        {
            w
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if (w := line.split(" ", 1)[0]).isalpha() and w.islower() and len(w) >= 6 and w not in exclude
        }
    )
    rare = [w for w in words if len(tokenizer.encode(" " + w, add_special_tokens=False).ids) >= 3]
    return [{"word": w} for w in random.Random(seed).sample(rare, n)]


# ---- Parlance through the service layer ----------------------------------------------------------------


def wav_bytes(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def service_transcriber(svc: Services, owner: str, model: str, cid: str | None) -> Transcriber:
    params = {"model": model, **({"language_customization_id": cid} if cid else {})}

    def transcribe(audio: np.ndarray) -> str:
        result = asyncio.run(svc.recognition.recognize(owner, [(wav_bytes(audio), "audio/wav")], params))
        return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])

    return transcribe


def wait_status(svc: Services, owner: str, cid: str, statuses: set[str]) -> dict:
    while (model := svc.customizations.get(owner, cid))["status"] not in statuses:
        time.sleep(0.02)
    return model


def train(svc: Services, owner: str, base: str, corpus: bytes, words: list[dict], name: str) -> tuple[str, float]:
    """Create, add data, train; returns the id and the seconds from the train call to `available`."""
    cid = svc.customizations.create(owner, {"name": name, "base_model_name": base})
    svc.corpora.add(owner, cid, "corpus", corpus, False)
    wait_status(svc, owner, cid, {"ready", "pending"})
    while svc.corpora.get(owner, cid, "corpus")["status"] == "being_processed":
        time.sleep(0.02)
    svc.words.add_many(owner, cid, {"words": words})
    wait_status(svc, owner, cid, {"ready"})
    started = time.perf_counter()
    svc.customizations.train(owner, cid, {})
    model = wait_status(svc, owner, cid, {"available", "failed"})
    seconds = time.perf_counter() - started
    if model["status"] != "available":
        raise RuntimeError(f"training failed: {model.get('error')}")
    return cid, seconds


# ---- scoring -------------------------------------------------------------------------------------------


@dataclass
class Score:
    errors: float = 0.0  # word errors (jiwer), summed over utterances
    ref_words: int = 0
    found: int = 0
    terms: int = 0
    seconds: float = 0.0
    utterances: int = 0

    def add(self, other: Score) -> Score:
        return Score(*(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True)))

    @property
    def wer(self) -> float:
        return self.errors / max(self.ref_words, 1)

    @property
    def recall(self) -> float:
        return self.found / self.terms if self.terms else 1.0

    def cell(self) -> str:
        if not self.utterances:
            return "–"
        return f"{self.recall:.0%} / {self.wer:.1%}"


def score(sample: Sample, hypothesis: str, seconds: float) -> Score:
    import jiwer

    ref, hyp = normalize(sample.reference), normalize(hypothesis)
    out = jiwer.process_words(ref, hyp) if ref else None
    errors = (out.substitutions + out.deletions + out.insertions) if out else len(hyp.split())
    hits = term_hits(sample.terms, hypothesis)
    return Score(errors, len(ref.split()), sum(hits), len(hits), seconds, 1)


def false_alarms(words: Sequence[str], sample: Sample, hypothesis: str) -> list[str]:
    """Custom words in the hypothesis that the reference does not contain."""
    in_hyp = term_hits(words, hypothesis)
    in_ref = term_hits(words, sample.reference)
    return [w for w, h, r in zip(words, in_hyp, in_ref, strict=True) if h and not r]


def voice_of(sample: Sample) -> str:
    return sample.id.split("-", 2)[-1] if sample.wav.parent.name != "librivox" else "librivox"


# ---- the run -------------------------------------------------------------------------------------------


class Runner:
    """Transcribes each (system, domain model, clip) once, keeping transcripts and per-call seconds; with a
    results file, appends them there as they come, and a later run with the same file goes on from them."""

    def __init__(self, workers: int, results_file: Path | None = None) -> None:
        self.workers = workers
        self.results: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.file = results_file
        if results_file is not None and results_file.exists():
            for line in results_file.read_text().splitlines():
                system, model, sid, text, seconds = json.loads(line)
                self.results[(system, model, sid)] = (text, seconds)

    def done(self, system: str, model: str, samples: Sequence[Sample]) -> bool:
        return all((system, model, s.id) in self.results for s in samples)

    def run(self, system: str, model: str, transcribe: Transcriber, samples: Sequence[Sample]) -> None:
        todo = [s for s in samples if (system, model, s.id) not in self.results]

        def one(sample: Sample) -> tuple[str, str, float]:
            audio = read_wav(sample.wav)
            started = time.perf_counter()
            text = transcribe(audio)
            return sample.id, text, time.perf_counter() - started

        with ThreadPoolExecutor(self.workers) as pool:
            for sid, text, seconds in pool.map(one, todo):
                self.results[(system, model, sid)] = (text, seconds)
                if self.file is not None:
                    with open(self.file, "a", encoding="utf-8") as f:
                        f.write(json.dumps([system, model, sid, text, seconds]) + "\n")

    def score(self, system: str, model: str, samples: Sequence[Sample]) -> Score:
        total = Score()
        for s in samples:
            if (system, model, s.id) in self.results:  # missing when a run with a results file was cut short
                text, seconds = self.results[(system, model, s.id)]
                total = total.add(score(s, text, seconds))
        return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA / "domains")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "parlance-bench-domains")
    ap.add_argument("--domains", default="", help="comma-separated domain names (default: all)")
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--systems", default=",".join(s for s in SYSTEMS if "distract" not in s))
    ap.add_argument("--distractors", type=int, default=0, help="rare words added for the *-distract systems")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--fa-voices", default="", help="voices of the false-alarm speech (default: the first voice)")
    ap.add_argument("--fa-sentences", type=int, default=8, help="sentences per other domain in the false-alarm set")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--misses", action="store_true", help="print every missed term with its transcript")
    ap.add_argument("--results", type=Path, help="transcripts file: kept as they come, reused by the next run")
    ap.add_argument("--report-only", action="store_true", help="report from --results without recognizing")
    args = ap.parse_args()

    voices = [v for v in args.voices.split(",") if v]
    systems = [s for s in args.systems.split(",") if s]
    if unknown := set(systems) - set(SYSTEMS):
        raise SystemExit(f"unknown systems: {sorted(unknown)}")
    if args.distractors > 0 and not any("distract" in s for s in systems):
        systems += [f"{b}-distract" for b in ("mm", "bb") if f"{b}-custom" in systems]
    fa_voices = [v for v in args.fa_voices.split(",") if v] or voices[:1]
    domains = load_domains(args.data, [d for d in args.domains.split(",") if d], voices, args.cache)
    general = librivox_samples()
    # False-alarm speech: every domain's sentences in the fa voices (a model is scored on the others') + LibriVox.
    fa_pool = (
        {d.name: [s for s in d.samples if voice_of(s) in fa_voices] for d in domains}
        if set(fa_voices) <= set(voices)
        else {d.name: finance_samples(args.data / d.name, args.cache, fa_voices, DATA / "synth.sh") for d in domains}
    )

    def fa_samples(domain: Domain) -> list[Sample]:
        return [s for d in domains if d.name != domain.name for s in fa_pool[d.name][: args.fa_sentences]] + general

    vocabulary = {
        w.lower()
        for d in domains
        for text in [d.corpus, *(s.reference for s in d.samples), *d.displays]
        for w in re.findall(r"[a-zA-Z]+", text)
    } | {w.lower() for s in general for w in s.reference.split()}
    distractors = distractor_words(args.distractors, args.seed, vocabulary)
    runner = Runner(args.workers, args.results)
    custom_words: dict[tuple[str, str], list[str]] = {}  # (system, domain) -> the model's custom words
    train_seconds: dict[tuple[str, str], float] = {}
    started = time.time()

    if args.report_only:
        for domain in domains:
            for system in systems:
                words = domain.words + (distractors if system.endswith("distract") else [])
                custom_words[(system, domain.name)] = [w.get("display_as") or w["word"] for w in words]
        report(args, domains, voices, systems, general, fa_samples, runner, custom_words, train_seconds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        svc = Services.build(Settings(data_dir=Path(tmp), auth=False, engine_workers=max(2, args.workers)))
        svc.start()
        owner = svc.auth.ensure_dev_instance()
        try:
            for domain in domains:
                clips = domain.samples + fa_samples(domain)
                for system in systems:  # domain by domain, so that a run cut short leaves whole domains
                    prefix, _, kind = system.partition("-")
                    words = list(domain.words)
                    if kind == "distract":
                        words = words + distractors
                        random.Random(args.seed).shuffle(words)  # a real list is not ordered by importance
                    if prefix in BASE and not kind:  # a base model: one transcript per clip, whatever the domain
                        runner.run(prefix, "", service_transcriber(svc, owner, BASE[prefix], None), clips)
                        print(f"{system} {domain.name}: done ({time.time() - started:.0f} s)", flush=True)
                        continue
                    if runner.done(system, domain.name, clips):
                        custom_words[(system, domain.name)] = [w.get("display_as") or w["word"] for w in words]
                        continue
                    if prefix in BASE and kind:
                        cid, seconds = train(
                            svc, owner, BASE[prefix], domain.corpus.encode(), words, f"{system}-{domain.name}"
                        )
                        train_seconds[(system, domain.name)] = seconds
                        transcribe = service_transcriber(svc, owner, BASE[prefix], cid)
                    elif prefix == "fw":
                        mode = {"hotwords": "hotwords", "prompt": "initial_prompt"}[kind]
                        transcribe = faster_whisper_peer(model_dir(), domain.displays, mode, workers=args.workers)
                    else:
                        continue
                    custom_words[(system, domain.name)] = [w.get("display_as") or w["word"] for w in words]
                    runner.run(system, domain.name, transcribe, clips)
                    print(f"{system} {domain.name}: done ({time.time() - started:.0f} s)", flush=True)
        finally:
            svc.close()

    report(args, domains, voices, systems, general, fa_samples, runner, custom_words, train_seconds)


def report(args, domains, voices, systems, general, fa_samples, runner, custom_words, train_seconds) -> None:  # type: ignore[no-untyped-def]
    def model_of(system: str, domain: Domain) -> str:
        return domain.name if "-" in system else ""

    print()
    print(
        f"{len(domains)} domains x {len(voices)} voices; {sum(len(d.samples) for d in domains)} utterances with "
        f"{sum(len(s.terms) for d in domains for s in d.samples)} custom-term occurrences; "
        f"distractors {args.distractors}; LibriVox {len(general)} clips"
    )
    print("\nTerm recall / WER per domain and voice")
    print("| domain | voice | " + " | ".join(systems) + " |")
    print("|---|---|" + "---|" * len(systems))
    for domain in domains:
        for voice in [*voices, "all"]:
            samples = [s for s in domain.samples if voice == "all" or voice_of(s) == voice]
            cells = [runner.score(sys_, model_of(sys_, domain), samples).cell() for sys_ in systems]
            name = f"**{domain.name}**" if voice == "all" else domain.name
            print(f"| {name} | {voice} | " + " | ".join(cells) + " |")
    print("\nAll domains per voice (term recall / WER)")
    print("| voice | " + " | ".join(systems) + " |")
    print("|---|" + "---|" * len(systems))
    for voice in [*voices, "all"]:
        cells = []
        for sys_ in systems:
            total = Score()
            for d in domains:
                total = total.add(
                    runner.score(sys_, model_of(sys_, d), [s for s in d.samples if voice in ("all", voice_of(s))])
                )
            cells.append(total.cell())
        print(f"| {voice} | " + " | ".join(cells) + " |")

    print("\nGeneral speech and false alarms (per domain model; base models use the domain's words for false alarms)")
    print("| system | LibriVox WER (mean over models) | false alarms / 100 utt. | utterances | worst words |")
    print("|---|---|---|---|---|")
    for sys_ in systems:
        wers, alarms, utts, seen = [], 0, 0, {}
        for d in domains:
            model = model_of(sys_, d)
            wers.append(runner.score(sys_, model, general).wer)
            words = custom_words.get((sys_, d.name), d.displays)
            for s in fa_samples(d):
                if (sys_, model, s.id) not in runner.results:
                    continue
                hits = false_alarms(words, s, runner.results[(sys_, model, s.id)][0])
                alarms += len(hits)
                utts += 1
                for w in hits:
                    seen[w] = seen.get(w, 0) + 1
        worst = ", ".join(f"{w} ({c})" for w, c in sorted(seen.items(), key=lambda x: -x[1])[:5])
        print(f"| {sys_} | {np.mean(wers):.1%} | {100 * alarms / max(utts, 1):.1f} | {utts} | {worst} |")

    print("\nRecognition time on the domain clips (sum of per-call seconds, same clips)")
    print("| system | seconds | x base | training s (mean) |")
    print("|---|---|---|---|")
    for sys_ in systems:
        secs = sum(runner.score(sys_, model_of(sys_, d), d.samples).seconds for d in domains)
        covered = [s for d in domains for s in d.samples if (sys_, model_of(sys_, d), s.id) in runner.results]
        base = sys_.split("-")[0] if sys_.split("-")[0] in BASE else "mm"
        base_secs = runner.score(base, "", covered).seconds if base in systems else 0
        ratio = f"{secs / base_secs:.2f}" if base_secs else ""
        tr = [v for (s, _), v in train_seconds.items() if s == sys_]
        print(
            f"| {sys_} | {secs:.1f} | {ratio} | {np.mean(tr):.1f} |" if tr else f"| {sys_} | {secs:.1f} | {ratio} | |"
        )

    if args.misses:
        print("\nMisses")
        for sys_ in systems:
            for d in domains:
                for s in d.samples:
                    if (sys_, model_of(sys_, d), s.id) not in runner.results:
                        continue
                    text = runner.results[(sys_, model_of(sys_, d), s.id)][0]
                    for term, hit in zip(s.terms, term_hits(s.terms, text), strict=True):
                        if not hit:
                            print(f"{sys_}\t{s.id}\t{term}\t{text}")


if __name__ == "__main__":
    main()
