"""A loaded Whisper tiny.en version (faster-whisper/CTranslate2): decodes and scores utterances.

Each `transcribe` call decodes one utterance (the service splits audio at pauses into pieces of at
most 30 s) as a single Whisper window: encode once, beam-search an n-best list, optionally rescore it
with a custom model, then align the winner for word times and probabilities.

Output follows Watson's next-generation style without smart formatting: lower-case spoken words, no
punctuation except apostrophes, numerals and abbreviations spelled out; custom words keep their
display form. Next-generation models report no out-of-vocabulary words, so `in_vocabulary` is
always True.

Concurrency: one CTranslate2 model with `num_workers` replicas (inter_threads) running
`cpu_threads` (intra_threads) each. On the default 2 cores that is 2 workers x 1 thread: the service
runs `engine_workers` (2) decodes at once, and tiny.en is small enough that two single-threaded
decodes give more throughput than one two-threaded decode, at the cost of a second copy of the
weights (about 40 MB in int8). `ModelVersion.options` may override compute_type, cpu_threads,
num_workers and beam_size.

The replicas also serve one long request: `parallel_decodes` (= num_workers) tells the service how many
pieces of its audio to decode at once. Each piece is still decoded alone (batch of one) on one replica,
so its result is the sequential one; CTranslate2 batches of several windows were measured on these
single-threaded replicas to save nothing on the encoder (70 % of the time) and to change the word
alignment of some pieces (the padded batch), see docs/benchmarks.md "Long audio".
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parlance.customization.languages import rules_for
from parlance.engines.base import SAMPLE_RATE, Alternative, DecodeOptions, ModelVersion, Word
from parlance.engines.whisper.bias import PROMPT_BUDGET, WhisperBias, load_cached
from parlance.errors import EngineFailure

WINDOW_SECONDS = 30

# Decoding knobs, measured on the librivox clips and the finance set (see tests/engines).
NO_SPEECH_THRESHOLD = 0.6  # Whisper's own: no_speech_prob above this and a weak decode → silence
LOGPROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4  # above this a decode is a repetition loop
LM_SCALE = 1.0  # rescoring weight per unit of customization_weight (see _rescore)
MAX_HYPOTHESES = 10  # beam width cap, whatever max_alternatives asks
SOUND_CANDIDATES = 6  # sound-alike spans checked against the audio per utterance (one align call each)
SOUND_MARGIN = 8.0  # nats a sound-alike may cost the transcript (finance+law, en-gb: 2 → 8 found 4 more of 64)
ENCODINGS_KEPT = 4  # recent encoder outputs (2.3 MB each): grammar scoring reuses the decode's


@dataclass(frozen=True)
class _Hypothesis:
    tokens: list[int]
    score: float  # CTranslate2's ranking score: cumulative log-prob / length
    avg_logprob: float  # cumulative log-prob / (length + 1), as faster-whisper computes it
    words: list[str]  # spoken words after custom rewriting
    text: str


class WhisperModel:
    """A loaded Whisper version; `transcribe` is safe to call from several threads at once."""

    def __init__(self, version: ModelVersion, backend: Any) -> None:
        """`backend` is the faster-whisper model (`load_backend`), which versions sharing weights share."""
        from faster_whisper.tokenizer import Tokenizer

        self.version = version
        self.beam_size = int(version.options.get("beam_size", 5))
        self.language = str(version.options.get("language", "en"))
        self.text_rules = rules_for(self.language)
        self._fw = backend
        self._ct2 = self._fw.model
        self.parallel_decodes = int(self._ct2.num_workers)  # replicas: decodes that run at once (ParallelDecoder)
        self.tokenizer = Tokenizer(self._fw.hf_tokenizer, self._ct2.is_multilingual, "transcribe", self.language)
        tok = self.tokenizer
        self._sot_sequence = list(tok.sot_sequence)
        self._suppress = sorted(
            {*tok.non_speech_tokens, tok.transcribe, tok.translate, tok.sot, tok.sot_prev, tok.sot_lm}
            | ({tok.no_speech} if tok.no_speech is not None else set())
        )
        self._eot, self._sot_prev, self._no_timestamps = tok.eot, tok.sot_prev, tok.no_timestamps
        self._encodings: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._encodings_lock = threading.Lock()

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    # ---- decoding ------------------------------------------------------------------------------

    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list[Alternative]:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return []
        bias = _load_bias(options.custom.path) if options.custom is not None else None
        weight = options.custom.weight if options.custom is not None else 0.0
        window = WINDOW_SECONDS * SAMPLE_RATE
        beam = 1 if options.low_latency else self.beam_size  # Watson's low_latency: greedy, about 2x faster
        if audio.size <= window:
            return self._window(audio, options.max_alternatives, bias, weight, options.prompt, beam)
        # Longer than one window (the service should not send this): decode 30 s windows in turn,
        # cut blindly (a word on a boundary may be split), one alternative.
        words: list[Word] = []
        for start in range(0, audio.size, window):
            alts = self._window(audio[start : start + window], 1, bias, weight, options.prompt, beam)
            if alts:
                offset = start / SAMPLE_RATE
                words += [
                    Word(w.text, round(w.start + offset, 2), round(w.end + offset, 2), w.confidence)
                    for w in alts[0].words
                ]
        if not words:
            return []
        confidence = float(np.mean([w.confidence for w in words]))
        return [Alternative(" ".join(w.text for w in words), confidence, tuple(words))]

    def _encode(self, audio: np.ndarray) -> tuple[Any, int]:
        """One 30 s window of log-mel features through the encoder, and its number of real frames.

        The encoder is about a third of a grammar request (0.5 s of 1.4 s on 2 cores), and `score`
        runs on the audio `transcribe` just encoded, so the last few encodings are kept by content."""
        key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest()
        with self._encodings_lock:
            if key in self._encodings:
                self._encodings.move_to_end(key)
                return self._encodings[key]
        fe = self._fw.feature_extractor
        features = fe(audio)
        num_frames = min(features.shape[-1] - 1, fe.nb_max_frames)
        segment = np.zeros((features.shape[0], fe.nb_max_frames), dtype=np.float32)
        segment[:, :num_frames] = features[:, :num_frames]
        encoded = (self._fw.encode(segment), num_frames)
        with self._encodings_lock:
            self._encodings[key] = encoded
            while len(self._encodings) > ENCODINGS_KEPT:
                self._encodings.popitem(last=False)
        return encoded

    def score(self, audio: np.ndarray, sentences: list[str], prompt: str | None = None) -> list[float]:
        """How well each sentence fits the audio, by teacher forcing (CTranslate2 `align`): the mean
        token log-probability of the sentence written as Whisper writes one ("Five oh eight."; the
        full stop stands in for end of text, which `align` does not score), averaged over a decode
        conditioned on `prompt` and one without. Whisper cannot decode with a grammar; this ranks its
        candidates. In a trial on bench/grammars.py's 90 utterances the average picked the right sentence
        86 times, the prompted score alone 84, the unprompted one 82."""
        if not sentences:
            return []
        encoded, num_frames = self._encode(np.asarray(audio, dtype=np.float32).reshape(-1))
        starts = [self._sot_sequence + [self._no_timestamps]]
        if prompt:
            starts.append([self._sot_prev, *self._prompt_tokens(prompt), *starts[0]])
        scores = []
        for sentence in sentences:  # align() takes one text per encoded window
            tokens = self.encode_text(" " + sentence[:1].upper() + sentence[1:] + ".")
            means = []
            for start in starts:
                (result,) = self._ct2.align(encoded, start, [tokens], num_frames)
                means.append(float(np.mean(np.log(np.maximum(result.text_token_probs, 1e-12)))))
            scores.append(float(np.mean(means)))
        return scores

    def language_probabilities(self, audio: np.ndarray) -> list[tuple[str, float]]:
        """Whisper's spoken-language identification on (the first 30 s of) `audio`: each language code
        with the probability of its language token after start-of-transcript, most likely first."""
        if not self._ct2.is_multilingual:
            raise EngineFailure(f"Model {self.version.version} cannot identify languages (it is English-only)")
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)[: WINDOW_SECONDS * SAMPLE_RATE]
        encoded, _ = self._encode(audio)
        (pairs,) = self._ct2.detect_language(encoded)
        return [(token[2:-2], float(prob)) for token, prob in pairs]

    def _prompt_tokens(self, prompt: str) -> list[int]:
        return self.encode_text(" " + prompt.strip())[-PROMPT_BUDGET:]

    def _window(
        self,
        audio: np.ndarray,
        n_alternatives: int,
        bias: WhisperBias | None,
        weight: float,
        request_prompt: str | None = None,
        beam: int | None = None,
    ) -> list[Alternative]:
        encoded, num_frames = self._encode(audio)
        beam = self.beam_size if beam is None else beam
        n_best = min(MAX_HYPOTHESES, max(n_alternatives, beam if bias is not None else 1))
        prompt = bias.prompt_tokens[-PROMPT_BUDGET:] if bias is not None and bias.prompt_tokens else None
        if request_prompt:  # a request's own prompt (grammar sentences) replaces the custom model's
            prompt = self._prompt_tokens(request_prompt)
        # No retry without a request's prompt: its caller (grammar selection) judges the fit itself.
        hyps, no_speech = self._generate(encoded, prompt, n_best, bias, beam)
        if hyps and prompt and not request_prompt and self._hallucinated(hyps[0], no_speech):
            # A prompt can talk Whisper into reciting custom words over silence or noise: trust the
            # audio, and decode without the prompt to check it.
            hyps, no_speech = self._generate(encoded, None, n_best, bias, beam)
        if not hyps or self._silent(hyps[0], no_speech):
            return []
        if bias is not None and bias.lm is not None and weight > 0 and len(hyps) > 1:
            hyps = self._rescore(hyps, bias, weight)
        best = hyps[0]
        if bias is not None and bias.phonetic and not request_prompt:
            best = self._sound_alike(best, encoded, num_frames, prompt, bias)
        if not best.words:
            return []
        words = self._aligned_words(best, encoded, num_frames, bias)
        confidence = round(float(np.mean([w.confidence for w in words])), 3) if words else _prob(best.avg_logprob)
        alternatives = [Alternative(" ".join(w.text for w in words), confidence, tuple(words))]
        seen = {alternatives[0].transcript}
        for hyp in hyps[1:]:
            transcript = " ".join(hyp.words)
            if len(alternatives) >= n_alternatives:
                break
            if transcript and transcript not in seen:
                seen.add(transcript)
                # ranked below the best, so never more confident than it
                alternatives.append(Alternative(transcript, min(_prob(hyp.avg_logprob), confidence)))
        return alternatives

    def _generate(
        self, encoded: Any, prompt: list[int] | None, n_best: int, bias: WhisperBias | None, beam: int | None = None
    ) -> tuple[list[_Hypothesis], float]:
        tokens = ([self._sot_prev, *prompt] if prompt else []) + self._sot_sequence + [self._no_timestamps]
        beam = max(self.beam_size if beam is None else beam, n_best)
        hyps: list[_Hypothesis] = []
        for attempt in range(2):
            kwargs: dict[str, Any] = {}
            if attempt:  # a repetition loop: decode again, forbidding repeated trigrams
                kwargs = {"no_repeat_ngram_size": 3, "repetition_penalty": 1.1}
            result = self._ct2.generate(
                encoded,
                [tokens],
                beam_size=beam,
                num_hypotheses=n_best,
                return_scores=True,
                return_no_speech_prob=True,
                max_length=self._fw.max_length,
                suppress_blank=True,
                suppress_tokens=self._suppress,
                **kwargs,
            )[0]
            hyps = [
                self._hypothesis(ids, score, bias)
                for ids, score in zip(result.sequences_ids, result.scores, strict=True)
            ]
            if not hyps or _compression_ratio(hyps[0].text) <= COMPRESSION_RATIO_THRESHOLD:
                break
        return hyps, float(result.no_speech_prob)

    def _hypothesis(self, ids: list[int], score: float, bias: WhisperBias | None) -> _Hypothesis:
        ids = [t for t in ids if t < self._eot]
        text = self.tokenizer.decode(ids).strip()
        words = self._words(text, bias)
        if bias is not None:
            words = bias.rewriter.apply(words)
        cum = score * max(len(ids), 1)
        return _Hypothesis(ids, score, cum / (len(ids) + 1), words, text)

    def _silent(self, hyp: _Hypothesis, no_speech: float) -> bool:
        return no_speech > NO_SPEECH_THRESHOLD and hyp.avg_logprob < LOGPROB_THRESHOLD

    def _hallucinated(self, hyp: _Hypothesis, no_speech: float) -> bool:
        """A prompted decode too weak to trust. On the finance and general test speech prompted decodes
        score avg_logprob >= -0.9; on silence, tones and noise they score <= -1.25."""
        return hyp.avg_logprob < LOGPROB_THRESHOLD

    def _rescore(self, hyps: list[_Hypothesis], bias: WhisperBias, weight: float) -> list[_Hypothesis]:
        """Re-rank the n-best list by CTranslate2's score (mean token log-prob) + customization_weight x
        the corpus LM's evidence (`WhisperBias.lm_bonus`, natural log) per token.

        Both terms are per token, so weight 0 keeps the beam's order and weight 1 counts the LM as
        much as the acoustics. Measured on the finance set: weight 0 gives WER 6.3 % / term recall
        93.3 %, the NG default 0.2 gives 5.6 % / 96.7 %, 0.5 gives 5.2 % / 96.7 %.
        """
        scale = weight * LM_SCALE

        def total(h: _Hypothesis) -> float:
            return h.score + scale * bias.lm_bonus(h.words) / max(len(h.tokens), 1)

        return sorted(hyps, key=total, reverse=True)

    def _sound_alike(
        self, hyp: _Hypothesis, encoded: Any, num_frames: int, prompt: list[int] | None, bias: WhisperBias
    ) -> _Hypothesis:
        """Spans that sound like a custom word (`phonetic`) become it when the audio agrees: the rewritten
        transcript's teacher-forced log-probability (conditioned like the decode) may fall at most
        SOUND_MARGIN nats below the original's. Checked one span at a time, closest first."""
        matches = bias.phonetic.matches(hyp.words)[:SOUND_CANDIDATES]
        if not matches:
            return hyp
        start = ([self._sot_prev, *prompt] if prompt else []) + self._sot_sequence + [self._no_timestamps]

        def logprob(words: list[str]) -> tuple[float, list[int]]:
            text = " ".join(words)
            tokens = self.encode_text(" " + text[:1].upper() + text[1:] + ".")
            (result,) = self._ct2.align(encoded, start, [tokens], num_frames)
            return float(np.sum(np.log(np.maximum(result.text_token_probs, 1e-12)))), tokens

        words = list(hyp.words)
        current, tokens = logprob(words)
        taken: set[int] = set()
        changed = False
        for m in matches:
            if taken & set(range(m.start, m.end)):
                continue
            # positions stay those of hyp.words: a replaced span keeps None placeholders until the end
            trial = [
                w if i not in range(m.start, m.end) else (m.display if i == m.start else None)
                for i, w in enumerate(words)
            ]
            candidate = [w for w in trial if w is not None]
            score, cand_tokens = logprob(candidate)
            if score >= current - SOUND_MARGIN:
                words, current, tokens, changed = trial, score, cand_tokens, True
                taken |= set(range(m.start, m.end))
        if not changed:
            return hyp
        final = bias.rewriter.apply([w for w in words if w is not None])
        return _Hypothesis(tokens, hyp.score, hyp.avg_logprob, final, " ".join(final))

    def _aligned_words(self, hyp: _Hypothesis, encoded: Any, num_frames: int, bias: WhisperBias | None) -> list[Word]:
        """Spoken words of `hyp` with times and probabilities from cross-attention alignment."""
        alignment = self._fw.find_alignment(self.tokenizer, [hyp.tokens], encoded, num_frames)
        items = alignment[0] if alignment else []
        pieces = self._word_pieces(items) if self.text_rules.spaced else self._segmented_pieces(items, bias)
        if not pieces:
            return [Word(w, 0.0, 0.0, _prob(hyp.avg_logprob)) for w in hyp.words]
        texts = [p[0] for p in pieces]
        merged: list[tuple[str, float, float, float]] = []
        last = 0
        spans = bias.rewriter.spans(texts) if bias is not None else []
        for start, end, replacement in spans:
            merged += pieces[last:start]
            group = pieces[start:end]
            merged.append((replacement, group[0][1], group[-1][2], sum(p[3] for p in group) / len(group)))
            last = end
        merged += pieces[last:]
        return [Word(t, round(s, 2), round(e, 2), round(c, 3)) for t, s, e, c in merged]

    def _word_pieces(self, items: list[dict[str, Any]]) -> list[tuple[str, float, float, float]]:
        """(word, start, end, probability) for languages written with spaces: Whisper aligns whole
        written words, each split into spoken words ("$3" → "three dollars") sharing its span."""
        pieces: list[tuple[str, float, float, float]] = []
        for item in items:
            spoken = self.text_rules.words(item["word"])
            if not spoken:
                continue
            start, end = float(item["start"]), float(item["end"])
            step = (end - start) / len(spoken)
            for i, w in enumerate(spoken):
                pieces.append((w, start + i * step, start + (i + 1) * step, float(item["probability"])))
        return pieces

    def _words(self, text: str, bias: WhisperBias | None) -> list[str]:
        """Transcript words; without spaces to go by, a custom model's one-word patterns are kept whole
        so that its rewrite rules find them."""
        if self.text_rules.spaced or bias is None:
            return self.text_rules.words(text)
        return self.text_rules.words(text, keep=bias.rewriter.single_words)

    def _segmented_pieces(
        self, items: list[dict[str, Any]], bias: WhisperBias | None
    ) -> list[tuple[str, float, float, float]]:
        """The same for languages without spaces (Japanese): Whisper aligns characters, the language's
        segmenter finds the words in the joined text, and each word spans its characters' times."""
        text = ""
        spans: list[tuple[float, float, float]] = []  # per character of `text`
        for item in items:
            chunk = str(item["word"])
            text += chunk
            start, end, prob = float(item["start"]), float(item["end"]), float(item["probability"])
            step = (end - start) / max(len(chunk), 1)
            spans += [(start + i * step, start + (i + 1) * step, prob) for i in range(len(chunk))]
        lowered = text.lower()
        pieces: list[tuple[str, float, float, float]] = []
        cursor = 0
        for word in self._words(text, bias):
            at = lowered.find(word, cursor)
            if at < 0:  # the segmenter normalized the word: no times to give it but its neighbours'
                last = pieces[-1][2] if pieces else (spans[0][0] if spans else 0.0)
                pieces.append((word, last, last, pieces[-1][3] if pieces else 0.0))
                continue
            chars = spans[at : at + len(word)]
            cursor = at + len(word)
            pieces.append((word, chars[0][0], chars[-1][1], sum(c[2] for c in chars) / len(chars)))
        return pieces


def backend_key(version: ModelVersion, cpu_threads: int, num_workers: int) -> tuple[Any, ...]:
    """What identifies a loaded set of weights: versions with the same key share one backend."""
    o = version.options
    return (
        str(version.path),
        tuple(o.get("model_parts", ())),
        str(o.get("model_files", "")),
        str(o.get("compute_type", "int8")),
        int(o.get("cpu_threads", cpu_threads)),
        int(o.get("num_workers", num_workers)),
    )


def load_backend(version: ModelVersion, cpu_threads: int, num_workers: int) -> Any:
    """The faster-whisper model of a version: from its directory, or, for weights split over several
    files (`model_parts`, see `engines.whisper.multilingual`), from the parts joined in memory."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel as FasterWhisper

    _, _, _, compute_type, threads, workers = backend_key(version, cpu_threads, num_workers)
    location, files = model_files(version)
    return FasterWhisper(
        location,
        device="cpu",
        compute_type=compute_type,
        cpu_threads=threads,
        num_workers=workers,
        local_files_only=True,
        files=files,
    )


def model_files(version: ModelVersion) -> tuple[str, dict[str, bytes] | None]:
    """(model directory, None) for an ordinary version; (identifier, file contents) for a split one.
    The parts are joined in memory only for the load (CTranslate2 copies the weights), never on disk."""
    parts = version.options.get("model_parts")
    directory = version.path / str(version.options.get("model_files", ""))
    if not parts:
        return str(directory), None
    files = {"model.bin": b"".join((version.path / str(p)).read_bytes() for p in parts)}
    for name in ("config.json", "vocabulary.json", "tokenizer.json"):
        files[name] = (directory / name).read_bytes()
    return str(directory), files


def tokenizer_file(version: ModelVersion) -> Path:
    return version.path / str(version.options.get("model_files", "")) / "tokenizer.json"


def _load_bias(path: Path) -> WhisperBias:
    try:
        return load_cached(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineFailure(f"Custom model artifacts in {path} cannot be read: {exc}") from exc


def _prob(avg_logprob: float) -> float:
    return round(min(1.0, math.exp(avg_logprob)), 3)


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0
