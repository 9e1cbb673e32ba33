"""The decoded result: 16 kHz mono float32, produced chunk by chunk, within a duration limit.

Decoders push short mono chunks at their source rate; `Resampler` turns each into 16 kHz chunks with
libswresample (PyAV's `AudioResampler`), so a consumer can recognize audio as it is decoded and never hold
all of it. `ResampledOutput` is the consumer that wants the whole array: it copies the chunks into one
growing array, so a file's peak memory is that array plus a chunk, never a second full-length copy (a list
of frames concatenated at the end doubles it).
"""

from __future__ import annotations

import math

import av
import numpy as np

from parlance.engines.base import SAMPLE_RATE
from parlance.errors import PayloadTooLarge

_MIN_GROWTH = 60 * SAMPLE_RATE  # samples added at least per growth, so short files resize rarely
_SLACK = SAMPLE_RATE  # resampler delay and rounding: room beyond an estimated length


class Resampler:
    """Turns mono chunks at any rate into 16 kHz float32 chunks in [-1, 1], refusing audio beyond
    `max_seconds`.

    Several parts (files) may be pushed in turn; `end_part` flushes the resampler between them and
    the limit applies to all of them together.
    """

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds
        self.seconds = 0.0  # of source audio taken in so far
        self._rate = 0
        self._resampler: av.AudioResampler | None = None

    def check_duration(self, seconds: float) -> None:
        """Refuse (413) if `seconds` more audio would pass the limit."""
        total = self.seconds + seconds
        if total > self.max_seconds:
            raise PayloadTooLarge(
                f"The audio is longer than the maximum of {self.max_seconds:g} seconds ({total:.2f} s or more)"
            )

    def expect(self, seconds: float) -> None:
        """A header's estimate of how much more audio is coming; consumers that collect it may make room."""

    def push(self, mono: np.ndarray, rate: int) -> list[np.ndarray]:
        """Take float32 mono samples at `rate` Hz; the 16 kHz samples ready so far."""
        self.check_duration(len(mono) / rate)
        self.seconds += len(mono) / rate
        flushed = []
        if rate != self._rate:
            flushed = self.end_part()
            self._rate = rate
            self._resampler = None if rate == SAMPLE_RATE else av.AudioResampler("flt", "mono", SAMPLE_RATE)
        if self._resampler is None:
            return [*flushed, _clipped(mono)]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono[None, :]), format="flt", layout="mono")
        frame.sample_rate = rate
        return [*flushed, *_chunks(self._resampler.resample(frame))]

    def end_part(self) -> list[np.ndarray]:
        """Drain the resampler (the next samples pushed start a new signal); the samples it held."""
        out = _chunks(self._resampler.resample(None)) if self._resampler is not None else []
        self._resampler, self._rate = None, 0
        return out


def _chunks(frames: list[av.AudioFrame]) -> list[np.ndarray]:
    return [_clipped(f.to_ndarray()[0]) for f in frames]


def _clipped(chunk: np.ndarray) -> np.ndarray:
    return np.clip(chunk, -1.0, 1.0).astype(np.float32, copy=False)


class ResampledOutput(Resampler):
    """A `Resampler` that keeps everything pushed, in one array sized from the header's estimate."""

    def __init__(self, max_seconds: float) -> None:
        super().__init__(max_seconds)
        self.size = 0  # samples written
        self._samples = np.empty(0, dtype=np.float32)

    def expect(self, seconds: float) -> None:
        """Make room for about `seconds` more audio without passing the limit."""
        room = max(0.0, min(seconds, self.max_seconds - self.seconds))
        self._reserve(self.size + math.ceil(room * SAMPLE_RATE) + _SLACK)

    def write(self, chunk: np.ndarray) -> None:
        """Append 16 kHz samples (chunks this object's `push` or `end_part` returned)."""
        end = self.size + len(chunk)
        if end > len(self._samples):
            limit = math.ceil(self.max_seconds * SAMPLE_RATE) + _SLACK if math.isfinite(self.max_seconds) else end
            self._reserve(max(end, min(2 * len(self._samples), limit), self.size + _MIN_GROWTH))
        self._samples[self.size : end] = chunk
        self.size = end

    def result(self) -> np.ndarray:
        """The samples written; the buffer is handed over, not copied."""
        out, self._samples = self._samples, np.empty(0, dtype=np.float32)
        # Shrinking with realloc returns the unused tail without copying the kept samples.
        out.resize(self.size, refcheck=False)
        self.size = 0
        return out

    def discard(self) -> None:
        """Free the samples (after an error)."""
        self._samples, self.size, self._resampler = np.empty(0, dtype=np.float32), 0, None

    def _reserve(self, capacity: int) -> None:
        # ndarray.resize reallocates in place: for arrays this large glibc's realloc moves pages with
        # mremap rather than copying, and pages never written take no memory.
        if capacity > len(self._samples):
            self._samples.resize(capacity, refcheck=False)
