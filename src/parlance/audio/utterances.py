"""`split_utterances` over audio that arrives in chunks (a file as it is decoded, a WebSocket stream).

`UtteranceSplitter` gives the same segments as `split_utterances` on the whole audio, each as soon as no
later audio can change it: its speech has been followed by `end_of_phrase_silence`, its padding is settled
(the next utterance's start, or enough silence, is known) and the smoothed energy its cuts are chosen by is
complete. Samples before the first utterance still open are dropped, so memory depends on the longest
utterance, not on the length of the audio. The one exception to "the same segments":
`background_suppression` compares each frame with the loudest speech of the whole audio; a caller that
has the whole audio passes that level (`loudest_speech`, a first pass), otherwise the loudest speech so
far is used.
"""

from __future__ import annotations

import math

import numpy as np

from parlance.audio.vad import (
    _SMOOTH,
    FRAME,
    FRAME_SECONDS,
    MIN_SPEECH_SECONDS,
    PAD_SECONDS,
    Segment,
    _cut,
    _FrameAnalyser,
    _modulated,
    _runs,
)
from parlance.engines.base import SAMPLE_RATE

_PAD = round(PAD_SECONDS / FRAME_SECONDS)
_MIN_FRAMES = round(MIN_SPEECH_SECONDS / FRAME_SECONDS)
_SMOOTH_REACH = 2  # frames either side that `split_utterances`' 5-frame energy smoothing reads
_STEP = 8  # frames analysed at a time (0.24 s): how often segments are looked for
_LOUD_PERCENTILE = 95
_HISTOGRAM_DB = np.linspace(-100.0, 0.0, 10001)  # 0.01 dB bins for the running loudest-speech level


def aggressiveness(sensitivity: float) -> int:
    """webrtcvad's mode for Watson's `speech_detector_sensitivity` (0.5 -> mode 2; lower is stricter)."""
    return min(3, max(0, round(3.5 - 3 * sensitivity)))


def loudest_speech(chunks: object, sensitivity: float) -> float | None:
    """The level (dBFS) `split_utterances` measures background suppression from, over an iterable of
    16 kHz chunks: the 95th percentile of its speech frames (all frames when detection is off)."""
    analyser, pending, levels = _FrameAnalyser(aggressiveness(sensitivity)), np.zeros(0, np.float32), []
    for chunk in chunks:  # type: ignore[attr-defined]
        pending = np.concatenate([pending, chunk])
        whole = len(pending) // FRAME * FRAME
        frames = analyser.frames(pending[:whole])
        pending = pending[whole:]
        levels.append(frames.level if sensitivity >= 1 else frames.level[frames.speech])
    speech = np.concatenate(levels) if levels else np.zeros(0)
    return float(np.percentile(speech, _LOUD_PERCENTILE)) if len(speech) else None


class _SampleWindow:
    """The samples from an absolute index on: appended at the end, dropped from the front. Dropping only
    moves an offset; the kept samples move when the buffer fills, so each sample moves O(1) times."""

    def __init__(self) -> None:
        self._buf = np.zeros(SAMPLE_RATE, dtype=np.float32)
        self._head = 0  # position of `start` in the buffer
        self._size = 0  # end of the valid samples in the buffer
        self.start = 0  # absolute index of the first sample kept

    @property
    def end(self) -> int:
        return self.start + self._size - self._head

    def append(self, chunk: np.ndarray) -> None:
        if self._size + len(chunk) > len(self._buf):
            kept = self._size - self._head
            if kept + len(chunk) > len(self._buf) // 2:  # keep room to grow without moving every time
                bigger = np.empty(max(2 * len(self._buf), 2 * (kept + len(chunk))), dtype=np.float32)
                bigger[:kept] = self._buf[self._head : self._size]
                self._buf = bigger
            else:
                self._buf[:kept] = self._buf[self._head : self._size]
            self._head, self._size = 0, kept
        self._buf[self._size : self._size + len(chunk)] = chunk
        self._size += len(chunk)

    def drop_before(self, index: int) -> None:
        index = min(max(index, self.start), self.end)
        self._head += index - self.start
        self.start = index

    def view(self, first: int, last: int) -> np.ndarray:
        """Samples [first, last) (absolute), which must still be kept; valid until the next append."""
        return self._buf[self._head + first - self.start : self._head + last - self.start]


class UtteranceSplitter:
    """Push 16 kHz chunks in order, then `finish`; each call returns the utterances it completed."""

    def __init__(
        self,
        *,
        end_of_phrase_silence: float = 0.8,
        max_utterance: float = 28.0,
        sensitivity: float = 0.5,
        background_suppression: float = 0.0,
        loud_level: float | None = None,
        step_frames: int = _STEP,
    ) -> None:
        if (
            end_of_phrase_silence <= 0
            or max_utterance < 1.0
            or not 0 <= sensitivity <= 1
            or not 0 <= background_suppression <= 1
        ):
            raise ValueError("end_of_phrase_silence must be > 0, max_utterance >= 1 s, and the levels within 0..1")
        self._silence = end_of_phrase_silence
        self._step = max(1, step_frames)  # frames gathered before an analysis (1 for live streams)
        self._limit = int(max_utterance / FRAME_SECONDS) - 1  # as `split_utterances`
        self._off = sensitivity <= 0 or background_suppression >= 1
        self._all_speech = sensitivity >= 1
        self._suppression = background_suppression
        self._loud = loud_level
        self._histogram = np.zeros(len(_HISTOGRAM_DB), dtype=np.int64) if loud_level is None else None
        self._analyser = _FrameAnalyser(aggressiveness(sensitivity))
        self._samples = _SampleWindow()
        self._speech = np.zeros(0, dtype=bool)  # per frame from `_base`
        self._level = np.zeros(0)
        self._base = 0  # absolute index of the first frame kept
        self._count = 0  # frames analysed
        self._resolved = 0  # speech before this frame belongs to utterances already returned or dropped
        self._previous_last: int | None = None  # end of the last utterance's speech (its padding's neighbour)
        self._heard = 0  # frame where the latest speech of an utterance (returned or open) ends
        self._open: tuple[int, int] | None = None  # frames of the first utterance not yet returned
        self._open_span: tuple[int, int] | None = None  # its segment's first frame, and how far it is certain
        self._tentative: tuple[int, int] | None = None  # its segment if no more speech comes (frames)
        self._ending: tuple[int, int] | None = None  # its segment's start and speech's end while speech pauses

    @property
    def seconds(self) -> float:
        """Of audio pushed."""
        return self._samples.end / SAMPLE_RATE

    @property
    def open_from(self) -> float:
        """Seconds from which an utterance not yet returned may start: no utterance returned later
        starts earlier (the inactivity timeout is measured against it)."""
        return self._samples.start / SAMPLE_RATE

    @property
    def heard_until(self) -> float:
        """Seconds from the start to the end of the latest speech heard (0 when none was)."""
        return self._heard * FRAME_SECONDS

    def in_progress(self) -> Segment | None:
        """The speech of the utterance still open, from its start to the audio analysed so far (for
        interim results), or None while no speech is open."""
        if self._open is None:
            return None
        first, last = self._open
        start = (self._open_span[0] if self._open_span is not None else max(first - _PAD, self._base)) * FRAME
        return Segment(start / SAMPLE_RATE, last * FRAME / SAMPLE_RATE, self._samples.view(start, last * FRAME).copy())

    def open_span(self) -> tuple[int, int] | None:
        """Samples [start, end) of the utterance still open that its segment will hold whatever audio
        follows (unless background suppression's running level changes which frames are speech): it starts
        at `start` and holds at least up to `end`. None while no speech is open."""
        if self._open_span is None:
            return None
        first, last = self._open_span
        return first * FRAME, last * FRAME

    def tentative(self) -> Segment | None:
        """The segment the open utterance becomes if no more speech comes before `end_of_phrase_silence`
        has passed, once that is known (a decoder may start on it early), else None."""
        if self._tentative is None:
            return None
        return self._segment(*self._tentative, False)

    def ending(self, pause: float) -> tuple[int, int] | None:
        """While the open utterance's speech has paused for at least `pause` seconds: samples [start, end) of
        its segment up to where its speech ends. If no more speech comes, its segment is these and
        `TRAILING_PAD` samples more (a decoder that normalizes by the speech alone may start on it)."""
        if self._ending is None or (self._count - self._ending[1]) * FRAME_SECONDS < pause - 1e-9:
            return None
        first, last = self._ending
        return first * FRAME, last * FRAME

    def samples(self, first: int, last: int) -> np.ndarray:
        """A copy of samples [first, last) (absolute), which must still be kept."""
        return self._samples.view(first, last).copy()

    def push(self, chunk: np.ndarray) -> list[Segment]:
        self._samples.append(chunk)
        if self._samples.end // FRAME - self._count < self._step:
            return []
        self._analyse()
        return self._complete(finished=False)

    def finish(self) -> list[Segment]:
        """The utterances left once all the audio has been pushed."""
        self._analyse()
        return self._complete(finished=True)

    # -- frames -------------------------------------------------------------------------------------
    def _analyse(self) -> None:
        count = self._samples.end // FRAME
        if count == self._count:
            return
        frames = self._analyser.frames(self._samples.view(self._count * FRAME, count * FRAME))
        speech = np.ones_like(frames.speech) if self._all_speech else frames.speech
        if self._histogram is not None:
            self._histogram += np.bincount(
                np.searchsorted(_HISTOGRAM_DB, frames.level[speech]), minlength=len(self._histogram)
            )[: len(self._histogram)]
        self._speech = np.concatenate([self._speech, speech])
        self._level = np.concatenate([self._level, frames.level])
        self._count = count

    def _speech_now(self) -> np.ndarray:
        """Speech flags of the kept frames after background suppression, without resolved speech."""
        speech = self._speech.copy()
        speech[: max(0, self._resolved - self._base)] = False
        loud = self._loud if self._histogram is None else self._running_loud()
        if self._suppression > 0 and loud is not None:
            speech &= self._level >= loud - 60.0 * (1 - self._suppression)
        return speech

    def _running_loud(self) -> float | None:
        assert self._histogram is not None
        total = int(self._histogram.sum())
        if not total:
            return None
        at = int(np.searchsorted(np.cumsum(self._histogram), _LOUD_PERCENTILE / 100 * total))
        return float(_HISTOGRAM_DB[min(at, len(_HISTOGRAM_DB) - 1)])

    # -- utterances ---------------------------------------------------------------------------------
    def _complete(self, *, finished: bool) -> list[Segment]:
        if self._off:
            self._drop_before(self._count)
            return []
        base, count = self._base, self._count
        regions = self._merged([(first + base, last + base) for first, last in _runs(self._speech_now())])
        out: list[Segment] = []
        energy: np.ndarray | None = None
        done = 0
        for i, (first, last, voiced) in enumerate(regions):
            closed = finished or i + 1 < len(regions) or (count - last) * FRAME_SECONDS >= self._silence
            if not closed:
                break
            if voiced < _MIN_FRAMES:  # a click or a noise burst: dropped, and no one's neighbour
                self._resolved, done = last, i + 1
                continue
            high = self._padded_end(last, regions[i + 1 :], count, finished)
            if high is None or (not finished and high + _SMOOTH_REACH > count):
                break
            low = max(first - _PAD, (self._previous_last + first) // 2 if self._previous_last is not None else 0)
            if not self._check_modulation or _modulated(self._level[low - base : high - base]):
                if energy is None:
                    energy = np.convolve(10 ** (self._level / 10), np.ones(_SMOOTH) / _SMOOTH, mode="same")
                for a, b in _cut((low - base, high - base), energy, self._limit):
                    out.append(self._segment(a + base, b + base, finished and b + base >= count))
            self._previous_last = self._resolved = last
            done = i + 1
        kept = [(first, last) for first, last, voiced in regions[done:] if voiced >= _MIN_FRAMES]
        self._open = (kept[0][0], count) if kept else None
        self._follow_open(kept[0] if kept else None, regions[done:], count)
        self._heard = max([self._heard, *(last for _, last in kept)])
        if self._previous_last is not None:
            self._heard = max(self._heard, self._previous_last)
        pending = regions[done][0] - _PAD if done < len(regions) else count - _PAD
        self._drop_before(pending - _SMOOTH_REACH)
        return out

    def _follow_open(self, open_: tuple[int, int] | None, regions: list[tuple[int, int, int]], count: int) -> None:
        """Where the open utterance's segment starts, how far it surely reaches, and the whole segment once
        only the rest of the silence is missing (the same rules as `_complete`)."""
        self._open_span = self._tentative = self._ending = None
        if open_ is None or self._off:
            return
        first, last = open_
        low = max(first - _PAD, (self._previous_last + first) // 2 if self._previous_last is not None else 0)
        later = [r[0] for r in regions if r[0] > first]
        # the padding may end halfway to the next speech, which starts at `count` at the earliest
        self._open_span = (low, max(low, min(last + _PAD, (last + (later[0] if later else count)) // 2, count)))
        if later:
            return
        # If the phrase ends here, the next speech starts `end_of_phrase_silence` after `last` at the earliest
        # (nearer, it would belong to this phrase), so the padding's end is known before that silence is over.
        nearest = last + math.ceil(self._silence / FRAME_SECONDS - 1e-9)
        if (last + max(count, nearest)) // 2 < last + _PAD:
            return  # the padding may end halfway to speech that has not come yet (a short silence)
        high = last + _PAD
        if high - low > self._limit:
            return
        self._ending = (low, last)
        if high + _SMOOTH_REACH > count:
            return
        if self._check_modulation and not _modulated(self._level[low - self._base : high - self._base]):
            return
        self._tentative = (low, high)

    @property
    def _check_modulation(self) -> bool:
        return not self._all_speech

    def _merged(self, runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """Speech runs merged across pauses shorter than the silence: (first, last, speech frames)."""
        merged: list[tuple[int, int, int]] = []
        for first, last in runs:
            if merged and (first - merged[-1][1]) * FRAME_SECONDS < self._silence:
                start, _, voiced = merged.pop()
                merged.append((start, last, voiced + last - first))
            else:
                merged.append((first, last, last - first))
        return merged

    def _padded_end(self, last: int, following: list[tuple[int, int, int]], count: int, finished: bool) -> int | None:
        """Where an utterance whose speech ends at frame `last` ends with its padding (halfway to the next
        utterance when that is nearer than the padding), or None while that is not yet known."""
        for j, (first, end, voiced) in enumerate(following):
            if voiced >= _MIN_FRAMES:
                return min(last + _PAD, (last + first) // 2)
            if finished or j + 1 < len(following) or (count - end) * FRAME_SECONDS >= self._silence:
                continue  # will be dropped: not a neighbour
            # still open and too short so far: it may become the next utterance, or not
            return last + _PAD if (last + first) // 2 >= last + _PAD else None
        if finished:
            return min(last + _PAD, count)
        return last + _PAD if (last + count) // 2 >= last + _PAD else None  # the next starts at `count` or later

    def _segment(self, first: int, last: int, to_the_end: bool) -> Segment:
        start, end = first * FRAME, (self._samples.end if to_the_end else last * FRAME)
        return Segment(start / SAMPLE_RATE, end / SAMPLE_RATE, self._samples.view(start, end).copy())

    def _drop_before(self, frame: int) -> None:
        frame = min(max(frame, self._base), self._count)
        self._speech, self._level = self._speech[frame - self._base :], self._level[frame - self._base :]
        self._base = frame
        self._samples.drop_before(frame * FRAME)
