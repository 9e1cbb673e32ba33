"""Custom acoustic models for PocketSphinx: MLLR or MAP adaptation of the base acoustic model.

Steps (reference: sphinx-adaptation.md): utterances with a transcript are used as given (after checking
every word against the dictionary); the others are decoded first (with the custom language model when one
is given; usually the service did that when the audio was added, `AdaptationUtterance.decoded`, so that
training itself stays far shorter than the audio) and only their confident stretches are kept, cut at the
pauses around them, since a wrong transcript teaches the model wrong sounds. Features are computed as the
decoder computes them, `bw` accumulates statistics (its log says which utterances it dropped), then with
little aligned speech only a global MLLR transform is estimated; with more, MAP re-estimates the
Gaussians, mixture weights and transitions (MAP_TAU). Either result is paired with the base model, their
Gaussians side by side, so that the model serves its speaker without forgetting everybody else.

The artifact directory holds `model.json` (what was done) and `hmm/`, the paired model (artifacts of
earlier versions may hold an `mllr_matrix` instead, which the decoder applies).
"""

from __future__ import annotations

import json
import shutil
import time
import wave
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from parlance.engines.base import (
    AdaptationInput,
    AdaptationUtterance,
    DecodeOptions,
    ModelVersion,
    ProgressCallback,
    Word,
)
from parlance.engines.pocketsphinx import sphinxtrain
from parlance.engines.pocketsphinx.dictionary import Pronouncer, read_dictionary, word_key, write_dictionary
from parlance.engines.pocketsphinx.version import model_files
from parlance.errors import BadRequest

# Below this much aligned speech a global MLLR transform is estimated instead of MAP (reference §5).
# Measured on the espeak-ng voice without transcripts (63 s kept as confident; bench/acoustic.py's 60
# held-out sentences, WER on that voice / on flite slt, base 66.5% / 13.7%): MLLR applied by the decoder
# 36.7% / 37.3%, MLLR paired with the base model 41.0% / 14.6%, MAP (tau 10) paired 63.9% / 14.6%.
MAP_MIN_SECONDS = 90.0
# MAP's prior weight, and the adapted half's weight in the model paired with the base one
# (sphinxtrain.pair_with_base). Chosen on the dev voice slt (10.8 min with transcripts, 60 held-out
# sentences; rms as the other voice; base 13.7% / 4.9%): MAP alone, tau 100: 9.9% / 7.1%, tau 10: 5.8% /
# 9.6% (a speaker-specific model hurts others); paired, tau 10 weight 0.5: 5.6% / 6.6%; tau 3 w 0.5: 5.4% /
# 7.3%; tau 10 w 0.7: 5.6% / 7.9%; tau 30 w 0.7: 7.1% / 7.0%. The other voices were held out
# (docs/benchmarks.md).
MAP_TAU = 10.0
ADAPTED_WEIGHT = 0.5
# First-pass decoding: a word is trusted from this posterior on. On the espeak-ng voice (64% WER), words
# decoded with a posterior >= 0.9 were right 20 times in 21, those in 0.5-0.9 about 70%, below 0.5 25%.
CONFIDENT_WORD = 0.9
MIN_STRETCH_WORDS = 1
# Self-training rounds: 2 decodes untranscribed audio again with the model adapted on the first decoding
# and estimates again. The first decoding is made when the audio is added (the service's first pass); a
# second one would cost about 0.3x the audio's duration in training, above the 0.1x budget: one round.
DECODING_ROUNDS = 1
# Less aligned speech than this gives a model that helps nobody and hurts other speakers: refused.
MIN_ADAPT_SECONDS = 20.0
EDGE_SECONDS = 0.15  # audio kept around a stretch when no neighbouring word bounds it
RATE = 16000


@dataclass(frozen=True)
class Prepared:
    uid: str
    transcript: str
    seconds: float
    source: str  # "transcript" | "decoded"


def read_wav(path: Path, start: float = 0.0, end: float | None = None) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise BadRequest(f"Adaptation audio must be 16 kHz mono 16-bit: {path.name}")
        first = int(start * RATE)
        w.setpos(min(first, w.getnframes()))
        count = w.getnframes() - first if end is None else int((end - start) * RATE)
        return np.frombuffer(w.readframes(max(0, count)), "<i2")


def write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


def dictionary_path(version: ModelVersion, data: AdaptationInput) -> Path:
    """The custom language model's dictionary (base words plus its custom words) when given."""
    if data.language is not None and (data.language.path / "custom.dict").is_file():
        return data.language.path / "custom.dict"
    return model_files(version)["dict"]


def check_transcript(text: str, vocabulary: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(lower-case transcript, []) when every word is in the dictionary, else (None, unknown words)."""
    words = [word_key(w) for w in text.split()]
    unknown = [w for w in words if w not in vocabulary]
    return (" ".join(words) if words and not unknown else None), unknown


def confident_stretches(words: list[Any], duration: float) -> list[tuple[float, float, str]]:
    """Runs of at least MIN_STRETCH_WORDS trusted words, as (start, end, text); a run is cut halfway
    into the gaps to its untrusted neighbours, so that no part of a doubtful word is kept."""
    out: list[tuple[float, float, str]] = []
    run: list[int] = []
    for i in range(len(words) + 1):
        if i < len(words) and words[i].confidence >= CONFIDENT_WORD:
            run.append(i)
            continue
        if len(run) >= MIN_STRETCH_WORDS:
            first, last = words[run[0]], words[run[-1]]
            start = (words[run[0] - 1].end + first.start) / 2 if run[0] > 0 else max(0.0, first.start - EDGE_SECONDS)
            after = run[-1] + 1
            end = (last.end + words[after].start) / 2 if after < len(words) else min(duration, last.end + EDGE_SECONDS)
            out.append((start, end, " ".join(words[j].text for j in run)))
        run = []
    return out


class Adapter:
    """One adaptation run in a work folder; `run` writes the artifact into `out_dir`."""

    def __init__(self, version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: ProgressCallback):
        self.version, self.data, self.out_dir, self.progress = version, data, out_dir, progress
        self.files = model_files(version)
        self.work = out_dir / ".work"
        self.wavs = self.work / "wav"
        self.dictionary = dictionary_path(version, data)
        self.notes: dict[str, Any] = {"dropped": {}, "unknown_words": []}

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.wavs.mkdir(parents=True)
        prepared = sphinxtrain.prepare_base(self.files["hmm"], self.data.cache_dir / self.version.version)
        transcribed = self._transcribed()
        rounds = DECODING_ROUNDS if any(u.transcript is None for u in self.data.utterances) else 1
        model: Path | None = None
        for k in range(rounds):
            decoded = self._decoded(model, k, rounds)
            model = self.work / f"round{k}"
            model.mkdir()
            summary = self._estimate(prepared, transcribed + decoded, model, k == rounds - 1)
        assert model is not None
        for item in model.iterdir():
            shutil.move(str(item), self.out_dir / item.name)
        summary["train_seconds"] = round(time.monotonic() - started, 2)
        pending = [u for u in self.data.utterances if u.transcript is None]
        summary["decoding_rounds"] = rounds if pending else 0
        summary["first_pass_given"] = sum(1 for u in pending if u.decoded is not None)  # decoded before training
        (self.out_dir / "model.json").write_text(json.dumps(summary, indent=1))
        self.progress(99)
        return summary

    def _estimate(self, prepared: Path, utterances: list[Prepared], out: Path, final: bool) -> dict[str, Any]:
        """bw over the utterances, then MLLR or MAP into `out`."""
        hmm = self.files["hmm"]
        if not utterances:
            raise BadRequest(
                "No usable speech for adaptation: no transcript matched the dictionary and no stretch of the "
                "audio was recognized confidently enough"
            )
        ids = [u.uid for u in utterances]
        texts = [u.transcript for u in utterances]
        feat = self.work / "feat"
        new = [i for i in ids if not (feat / f"{i}.mfc").exists()]
        if new:
            sphinxtrain.features(hmm, self.wavs, new, feat)
        mixw = prepared / "mixture_weights"
        acc = sphinxtrain.accumulate(hmm, prepared, mixw, self.dictionary, ids, texts, self.work)
        self.notes["dropped"].update(acc.dropped)
        aligned = set(acc.used)
        used = [u for u in utterances if u.uid in aligned]
        seconds = sum(u.seconds for u in used)
        # An intermediate round only bootstraps the next decoding: a little speech is enough for MLLR there.
        if seconds < (MIN_ADAPT_SECONDS if final else MIN_ADAPT_SECONDS / 4):
            raise BadRequest(
                f"Only {seconds:.1f} s of the audio could be used for adaptation (at least {MIN_ADAPT_SECONDS:g} s "
                "are needed): add transcripts (a .txt beside each audio file in an archive) or more speech"
            )
        method = "map" if seconds >= MAP_MIN_SECONDS and final else "mllr"
        if method == "mllr":
            transform = self.work / f"mllr-{out.name}"
            sphinxtrain.solve_mllr(hmm, acc.accum_dir, transform)
            sphinxtrain.copy_model(hmm, out / "hmm", ("feat.params", "mdef", "noisedict", "transition_matrices"))
            means = sphinxtrain.mllr_means(hmm, transform)
            mixw = sphinxtrain.read_mixture_weights(prepared / "mixture_weights")
        else:
            weights = self.work / f"mixw-{out.name}"
            sphinxtrain.map_adapt(hmm, prepared, acc.accum_dir, out / "hmm", weights, MAP_TAU)
            means = sphinxtrain.read_gaussians(out / "hmm" / "means")
            mixw = sphinxtrain.read_mixture_weights(weights)
        sphinxtrain.pair_with_base(hmm, prepared, out / "hmm", means, mixw, ADAPTED_WEIGHT)
        return {
            "method": method,
            "utterances": len(used),
            "seconds": round(seconds, 2),
            "transcripts": {s: sum(1 for u in used if u.source == s) for s in ("transcript", "decoded")},
            "dropped": len(self.notes["dropped"]),
            "unknown_words": sorted(set(self.notes["unknown_words"]))[:50],
            "generated_pronunciations": self.notes.get("generated_pronunciations", 0),
        }

    def _transcribed(self) -> list[Prepared]:
        given = [u for u in self.data.utterances if u.transcript is not None]
        if not given:
            return []
        self._pronounce_unknown(given)
        vocabulary = read_dictionary(self.dictionary)
        out: list[Prepared] = []
        for n, utt in enumerate(given):
            assert utt.transcript is not None
            text, unknown = check_transcript(utt.transcript, vocabulary)
            if text is None:
                self.notes["unknown_words"] += unknown
                self.notes["dropped"][utt.label] = f"words without a pronunciation: {', '.join(unknown[:5])}"
                continue
            pcm = read_wav(utt.audio, utt.start, utt.end)
            uid = f"t{n:06d}"
            write_wav(self.wavs / f"{uid}.wav", pcm)
            out.append(Prepared(uid, text, len(pcm) / RATE, "transcript"))
        return out

    def _pronounce_unknown(self, given: list[AdaptationUtterance]) -> None:
        """Transcript words missing from the dictionary get a generated pronunciation (as custom words do)
        in a dictionary of this run, rather than losing their utterances."""
        vocabulary = read_dictionary(self.dictionary)
        unknown = sorted({w for u in given for w in check_transcript(u.transcript or "", vocabulary)[1]})
        if not unknown:
            return
        pronouncer = Pronouncer(vocabulary)
        pronouncer.prepare(unknown)
        custom = {w: [" ".join(phones)] for w in unknown if (phones := pronouncer.pronounce(w))}
        path = self.work / "adaptation.dict"
        write_dictionary(self.dictionary, path, custom)
        self.dictionary = path
        self.notes["generated_pronunciations"] = len(custom)

    def _decoded(self, acoustic: Path | None, round_: int, rounds: int) -> list[Prepared]:
        """Confident stretches of the untranscribed audio, decoded with `acoustic` (None: the base model)."""
        pending = [u for u in self.data.utterances if u.transcript is None]
        if not pending:
            return []
        from parlance.engines.pocketsphinx.model import PocketSphinxModel, to_pcm16

        model = PocketSphinxModel(self.version)
        options = DecodeOptions(custom=self.data.language, acoustic=acoustic)
        vocabulary = read_dictionary(self.dictionary)
        out: list[Prepared] = []
        for n, utt in enumerate(pending):
            pcm = read_wav(utt.audio, utt.start, utt.end)
            samples = pcm.astype(np.float32) / 32768.0
            if acoustic is None and utt.decoded is not None:  # the service's cached first pass
                hypothesis: tuple[Word, ...] = utt.decoded
            else:
                alternatives = model.transcribe(samples, options)
                hypothesis = alternatives[0].words if alternatives else ()
            # a word shown in another form (display_as) has no pronunciation under that name: not trusted
            words = [w if word_key(w.text) in vocabulary else replace(w, confidence=0.0) for w in hypothesis]
            for k, (start, end, text) in enumerate(confident_stretches(words, len(pcm) / RATE)):
                piece = np.frombuffer(to_pcm16(samples[int(start * RATE) : int(end * RATE)]), "<i2")
                uid = f"d{round_}-{n:06d}-{k:03d}"
                write_wav(self.wavs / f"{uid}.wav", piece)
                out.append(Prepared(uid, " ".join(word_key(w) for w in text.split()), len(piece) / RATE, "decoded"))
            self.progress(5 + int(85 * (round_ + (n + 1) / len(pending)) / rounds))
        return out


def adapt(version: ModelVersion, data: AdaptationInput, out_dir: Path, progress: ProgressCallback) -> dict[str, Any]:
    """Build a custom acoustic model for `version` into `out_dir` (empty); returns its summary."""
    adapter = Adapter(version, data, out_dir, progress)
    try:
        return adapter.run()
    finally:
        shutil.rmtree(adapter.work, ignore_errors=True)


__all__ = ["AdaptationUtterance", "adapt"]
