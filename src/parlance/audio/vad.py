"""Split long audio into utterances at pauses, for engines that take at most ~30 s at a time.

Frames of 30 ms are classified by webrtcvad. Because webrtcvad flags stationary noise (and
tones) as speech, a frame only counts when it is also above an energy floor and its spectrum is
not flat like noise; a candidate utterance must contain enough such frames and its level must
vary the way speech does (stationary noise keeps a nearly constant level).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from parlance.engines.base import SAMPLE_RATE

FRAME = 480  # samples per 30 ms frame at 16 kHz
FRAME_SECONDS = FRAME / SAMPLE_RATE
PAD_SECONDS = 0.25  # kept on each side of detected speech so word edges are not clipped
# Samples of padding after a segment's speech (unless a neighbour or the audio's end is nearer): what a decoder
# that normalizes by the speech alone leaves out, so a stream knows it as soon as the speech ends
TRAILING_PAD = round(PAD_SECONDS / FRAME_SECONDS) * FRAME
MIN_SPEECH_SECONDS = 0.15  # candidates with less speech are clicks or noise bursts
ENERGY_FLOOR_DB = -60.0  # frames quieter than this (dBFS RMS) are never speech
MAX_FLATNESS = 0.4  # spectral flatness: white noise ~0.56, voiced speech < 0.05
MIN_MODULATION_DB = 6.0  # spread (90th - 10th percentile) of frame levels within an utterance
_BLOCK = 4096  # frames analysed per numpy block, to bound memory on hours of audio
_SMOOTH = 5  # frames of energy averaging when choosing where to cut a long utterance


@dataclass(frozen=True)
class Segment:
    """One utterance: times in seconds from the start of the audio, samples a view into it."""

    start: float
    end: float
    samples: np.ndarray = field(repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def speech(self) -> int:
        """Samples before the trailing padding (`TRAILING_PAD`, unless cut short: then some speech is left out)."""
        return max(len(self.samples) - TRAILING_PAD, len(self.samples) // 2)


@dataclass(frozen=True)
class _Frames:
    speech: np.ndarray  # bool per frame
    level: np.ndarray  # dBFS RMS per frame


def split_utterances(
    audio: np.ndarray,
    *,
    end_of_phrase_silence: float = 0.8,
    max_utterance: float = 28.0,
    sensitivity: float = 0.5,
    background_suppression: float = 0.0,
) -> list[Segment]:
    """Utterances of mono 16 kHz `audio`, split at pauses of at least `end_of_phrase_silence` s.

    Each utterance is padded by `PAD_SECONDS` of context (never overlapping its neighbours) and
    lasts at most `max_utterance` s; longer ones are cut at their quietest point. Audio without
    speech (silence, noise) gives an empty list.

    `sensitivity` and `background_suppression` are Watson's `speech_detector_sensitivity` and
    `background_audio_suppression` (0..1). Sensitivity picks webrtcvad's mode (0.5 -> mode 2; lower is
    stricter); 0 hears no speech at all and 1 turns detection off, so all audio counts as speech.
    Background suppression drops frames more than 60 dB x (1 - level) below the loud speech: at 0.5,
    speech 30 dB below the main speaker is not transcribed; at 1 nothing is.
    """
    if (
        end_of_phrase_silence <= 0
        or max_utterance < 1.0
        or not 0 <= sensitivity <= 1
        or not 0 <= background_suppression <= 1
    ):
        raise ValueError("end_of_phrase_silence must be > 0, max_utterance >= 1 s, and the levels within 0..1")
    x = _as_float(audio)
    if sensitivity <= 0 or background_suppression >= 1:
        return []
    frames = _analyse(x, min(3, max(0, round(3.5 - 3 * sensitivity))))
    if sensitivity >= 1:  # detection off: everything is speech, however stationary
        frames = _Frames(np.ones_like(frames.speech), frames.level)
    if background_suppression > 0 and frames.speech.any():
        loud = np.percentile(frames.level[frames.speech], 95)
        frames = _Frames(frames.speech & (frames.level >= loud - 60.0 * (1 - background_suppression)), frames.level)
    regions = _utterance_regions(frames, end_of_phrase_silence, check_modulation=sensitivity < 1)
    if not regions:
        return []
    energy = np.convolve(10 ** (frames.level / 10), np.ones(_SMOOTH) / _SMOOTH, mode="same")
    limit = int(max_utterance / FRAME_SECONDS) - 1  # the last segment may also take a partial frame
    pieces = [piece for region in regions for piece in _cut(region, energy, limit)]
    return [_segment(x, first, last, len(frames.level)) for first, last in pieces]


def has_speech(audio: np.ndarray, *, aggressiveness: int = 2) -> bool:
    """Whether `audio` (mono float32, 16 kHz) contains at least one utterance."""
    return bool(_utterance_regions(_analyse(_as_float(audio), aggressiveness), 0.8))


def _as_float(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim != 1:
        raise ValueError(f"audio must be one-dimensional mono samples, got shape {x.shape}")
    return x if x.dtype == np.float32 else x.astype(np.float32)


def _analyse(x: np.ndarray, aggressiveness: int) -> _Frames:
    return _FrameAnalyser(aggressiveness).frames(x[: len(x) // FRAME * FRAME])


class _FrameAnalyser:
    """Classifies whole 30 ms frames in order; webrtcvad adapts to the audio, so one analyser per stream."""

    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def frames(self, x: np.ndarray) -> _Frames:
        """Speech flags and levels of `x`, whose length is a whole number of frames."""
        count = len(x) // FRAME
        speech, level = np.zeros(count, dtype=bool), np.zeros(count)
        for start in range(0, count, _BLOCK):
            block = x[start * FRAME : min(count, start + _BLOCK) * FRAME].reshape(-1, FRAME)
            pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2")
            voiced = np.array([self._vad.is_speech(row.tobytes(), SAMPLE_RATE) for row in pcm], dtype=bool)
            rms = np.sqrt(np.mean(np.square(block, dtype=np.float64), axis=1))
            db = 20 * np.log10(np.maximum(rms, 1e-5))
            rows = slice(start, start + len(block))
            speech[rows] = voiced & (db > ENERGY_FLOOR_DB) & (_flatness(block) < MAX_FLATNESS)
            level[rows] = db
        return _Frames(speech, level)


def _flatness(block: np.ndarray) -> np.ndarray:
    """Spectral flatness (geometric / arithmetic mean of the power spectrum) per frame."""
    power = np.abs(np.fft.rfft(block * np.hanning(FRAME), axis=1)[:, 1:]) ** 2 + 1e-12
    return np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)


def _utterance_regions(frames: _Frames, silence: float, check_modulation: bool = True) -> list[tuple[int, int]]:
    """Padded [first, last) frame ranges of speech, merged across pauses shorter than `silence`."""
    runs = _runs(frames.speech)
    merged: list[tuple[int, int, int]] = []  # (first, last, speech frames)
    for first, last in runs:
        if merged and (first - merged[-1][1]) * FRAME_SECONDS < silence:
            start, _, voiced = merged.pop()
            merged.append((start, last, voiced + last - first))
        else:
            merged.append((first, last, last - first))
    min_frames = round(MIN_SPEECH_SECONDS / FRAME_SECONDS)
    speech = [(first, last) for first, last, voiced in merged if voiced >= min_frames]
    padded = _pad(speech, len(frames.speech))
    return [r for r in padded if not check_modulation or _modulated(frames.level[r[0] : r[1]])]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _pad(regions: list[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """Widen each region by the padding, splitting shared gaps at their midpoint."""
    pad = round(PAD_SECONDS / FRAME_SECONDS)
    out = []
    for i, (first, last) in enumerate(regions):
        low = (regions[i - 1][1] + first) // 2 if i else 0
        high = (last + regions[i + 1][0]) // 2 if i + 1 < len(regions) else count
        out.append((max(first - pad, low), min(last + pad, high)))
    return out


def _modulated(level: np.ndarray) -> bool:
    low, high = np.percentile(level, [10, 90])
    return bool(high - low >= MIN_MODULATION_DB)


def _cut(region: tuple[int, int], energy: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split a frame range longer than `limit` frames at its quietest (smoothed `energy`) points."""
    first, last = region
    pieces = []
    while last - first > limit:
        low = first + limit // 2
        cut = low + int(np.argmin(energy[low : first + limit]))
        pieces.append((first, cut))
        first = cut
    return [*pieces, (first, last)]


def _segment(x: np.ndarray, first: int, last: int, count: int) -> Segment:
    start, end = first * FRAME, (len(x) if last >= count else last * FRAME)
    return Segment(start / SAMPLE_RATE, end / SAMPLE_RATE, x[start:end])
