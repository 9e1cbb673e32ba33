"""Audio into a PocketSphinx decoder and words out of it, shared by whole and incremental decoding."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from parlance.engines.base import Word
from parlance.engines.pocketsphinx.lattice import clean_word
from parlance.errors import InvalidAudio

DITHER = 1.0  # amplitude (in 16-bit steps) of the deterministic dither added before decoding


def to_pcm16(audio: np.ndarray, dither: float = DITHER, rng: np.random.Generator | None = None) -> bytes:
    """float [-1, 1] -> 16-bit PCM bytes, with deterministic dither.

    Synthetic and gated audio holds runs of exact digital zeros, whose log filterbank energies
    throw the front end off (espeak-ng speech: 82% -> 67% WER with dither). PocketSphinx's own
    `dither` option draws from a generator that runs on across utterances, so the same audio would
    decode differently on a reused decoder; a fixed-seed dither per utterance keeps results
    reproducible. An utterance fed in pieces passes one `rng` for all of them: the same draws as at once.
    """
    samples = np.clip(np.nan_to_num(audio.astype(np.float64)), -1.0, 1.0) * 32767.0
    if dither:  # only exact zeros: real recordings keep their samples, so every format decodes alike
        zeros = samples == 0.0
        rng = rng if rng is not None else np.random.default_rng(0)
        samples[zeros] = rng.uniform(-dither, dither, int(zeros.sum()))
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def checked_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise InvalidAudio("Audio must be mono floating-point PCM")
    return audio


def begin_utterance(decoder: Any) -> None:
    """Start an utterance as on a new decoder. `start_stream` alone leaves state from the decoder's earlier
    utterances (a pooled decoder that had decoded other audio gave another hypothesis for the same samples);
    re-initializing the feature extraction (0.1 ms) makes results independent of the decoder's history."""
    decoder.reinit_feat()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        decoder.start_stream()  # resets noise statistics: every utterance starts fresh
    decoder.start_utt()


def segment_words(decoder: Any, display: dict[str, str], *, final: bool = True) -> list[Word]:
    """The words of the decoder's best path (so far, when not `final`), fillers dropped."""
    frate = float(decoder.config["frate"] or 100)
    words = []
    for seg in decoder.seg() or ():
        text = clean_word(seg.word)
        if text is None:
            continue
        conf = min(1.0, max(0.0, float(seg.prob))) if final else 0.0  # posteriors come with the lattice
        words.append(Word(display.get(text, text), seg.start_frame / frate, (seg.end_frame + 1) / frate, conf))
    return words
