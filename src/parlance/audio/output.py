"""The decoded result: 16 kHz mono float32, written in place chunk by chunk, within a duration limit.

Decoders push short mono chunks at their source rate; each is resampled by libswresample (PyAV's
`AudioResampler`) and copied into one growing array, so a file's peak memory is that array plus a
chunk, never a second full-length copy (a list of frames concatenated at the end doubles it).
"""

from __future__ import annotations

import math

import av
import numpy as np

from parlance.engines.base import SAMPLE_RATE
from parlance.errors import PayloadTooLarge

_MIN_GROWTH = 60 * SAMPLE_RATE  # samples added at least per growth, so short files resize rarely
_SLACK = SAMPLE_RATE  # resampler delay and rounding: room beyond an estimated length


class ResampledOutput:
    """Collects mono chunks at any rate as 16 kHz float32, refusing audio beyond `max_seconds`.

    Several parts (files) may be pushed in turn; `end_part` flushes the resampler between them and
    the limit applies to all of them together.
    """

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds
        self.seconds = 0.0  # of source audio taken in so far
        self.size = 0  # samples written
        self._samples = np.empty(0, dtype=np.float32)
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
        """Make room for about `seconds` more audio (a header's estimate) without passing the limit."""
        room = max(0.0, min(seconds, self.max_seconds - self.seconds))
        self._reserve(self.size + math.ceil(room * SAMPLE_RATE) + _SLACK)

    def push(self, mono: np.ndarray, rate: int) -> None:
        """Append float32 mono samples at `rate` Hz."""
        self.check_duration(len(mono) / rate)
        self.seconds += len(mono) / rate
        if rate != self._rate:
            self.end_part()
            self._rate = rate
            self._resampler = None if rate == SAMPLE_RATE else av.AudioResampler("flt", "mono", SAMPLE_RATE)
        if self._resampler is None:
            self._write(mono)
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono[None, :]), format="flt", layout="mono")
        frame.sample_rate = rate
        self._write_frames(self._resampler.resample(frame))

    def end_part(self) -> None:
        """Drain the resampler: the next samples pushed start a new signal."""
        if self._resampler is not None:
            self._write_frames(self._resampler.resample(None))
        self._resampler, self._rate = None, 0

    def result(self) -> np.ndarray:
        """The samples so far, clipped to [-1, 1]; the buffer is handed over, not copied."""
        self.end_part()
        out, self._samples = self._samples, np.empty(0, dtype=np.float32)
        # Shrinking with realloc returns the unused tail without copying the kept samples.
        out.resize(self.size, refcheck=False)
        self.size = 0
        return np.clip(out, -1.0, 1.0, out=out)

    def discard(self) -> None:
        """Free the samples (after an error)."""
        self._samples, self.size, self._resampler = np.empty(0, dtype=np.float32), 0, None

    def _write_frames(self, frames: list[av.AudioFrame]) -> None:
        for f in frames:
            self._write(f.to_ndarray()[0])

    def _write(self, chunk: np.ndarray) -> None:
        end = self.size + len(chunk)
        if end > len(self._samples):
            limit = math.ceil(self.max_seconds * SAMPLE_RATE) + _SLACK if math.isfinite(self.max_seconds) else end
            self._reserve(max(end, min(2 * len(self._samples), limit), self.size + _MIN_GROWTH))
        self._samples[self.size : end] = chunk
        self.size = end

    def _reserve(self, capacity: int) -> None:
        # ndarray.resize reallocates in place: for arrays this large glibc's realloc moves pages with
        # mremap rather than copying, and pages never written take no memory.
        if capacity > len(self._samples):
            self._samples.resize(capacity, refcheck=False)
