"""`UtteranceSplitter` (utterances as audio arrives) against `split_utterances` (the whole audio), and
`decoded_chunks` against `decode_parts`: the same samples and segments, without holding the audio."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable

import numpy as np
import pytest
import soundfile as sf

from parlance.audio.decode import decode_parts, decoded_chunks
from parlance.audio.utterances import UtteranceSplitter, loudest_speech
from parlance.audio.vad import TRAILING_PAD, Segment, split_utterances
from parlance.engines.base import SAMPLE_RATE


def speech_with_pauses(clips: list[np.ndarray], pauses: Iterable[float], noise: float = 0.0) -> np.ndarray:
    """The clips in turn at varied levels, each followed by the next pause (s), over optional noise."""
    rng = np.random.default_rng(7)
    parts = [np.zeros(12345, dtype=np.float32)]
    for clip, pause in zip(itertools.cycle(clips), pauses, strict=False):
        parts += [clip * rng.uniform(0.2, 1.0), np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)]
    x = np.concatenate(parts)
    return (x + rng.normal(0, noise, len(x)) if noise else x).astype(np.float32)


def streamed(audio: np.ndarray, chunk: int, **options: float) -> list[Segment]:
    loud = None
    if options.get("background_suppression", 0) > 0:
        chunks = (audio[i : i + chunk] for i in range(0, len(audio), chunk))
        loud = loudest_speech(chunks, options.get("sensitivity", 0.5))
    splitter = UtteranceSplitter(loud_level=loud, **options)
    out = [seg for i in range(0, len(audio), chunk) for seg in splitter.push(audio[i : i + chunk])]
    return out + splitter.finish()


def same(a: list[Segment], b: list[Segment]) -> bool:
    return len(a) == len(b) and all(
        x.start == y.start and x.end == y.end and np.array_equal(x.samples, y.samples)
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"end_of_phrase_silence": 0.1},  # padding halfway to a near neighbour
        {"end_of_phrase_silence": 0.3, "max_utterance": 3.0},  # long utterances cut at quiet points
        {"sensitivity": 1.0},  # detection off: all one utterance, cut every 28 s
        {"sensitivity": 0.1},
        {"background_suppression": 0.5},
        {"end_of_phrase_silence": 2.5},
    ],
)
@pytest.mark.parametrize("noise", [0.0, 0.003])
def test_streamed_segments_are_those_of_the_whole_audio(
    clips: list[np.ndarray], options: dict[str, float], noise: float
) -> None:
    audio = speech_with_pauses(clips, [0.3, 0.1, 2.0, 0.05, 0.5, 1.2, 0.79, 0.81], noise)
    whole = split_utterances(audio, **options)
    assert whole
    for chunk in (1152, 4801, 3 * SAMPLE_RATE):  # an MP3 frame, an odd size, seconds at a time
        assert same(streamed(audio, chunk, **options), whole), chunk


def test_segments_come_while_the_audio_arrives_and_only_the_open_one_is_held(clips: list[np.ndarray]) -> None:
    audio = speech_with_pauses(clips, [1.5] * 40)  # about 5 minutes
    splitter = UtteranceSplitter()
    chunk, longest, arrived_at = SAMPLE_RATE // 4, max(len(c) for c in clips), []
    for i in range(0, len(audio), chunk):
        for seg in splitter.push(audio[i : i + chunk]):
            arrived_at.append(((i + chunk) / SAMPLE_RATE) - seg.end)
        held = splitter.seconds * SAMPLE_RATE - splitter.open_from * SAMPLE_RATE
        assert held <= longest + 2 * SAMPLE_RATE, i / SAMPLE_RATE
    arrived_at += [0.0 for _ in splitter.finish()]
    assert len(arrived_at) == len(split_utterances(audio)) == 40
    # each utterance was complete about end_of_phrase_silence after its speech ended, well before the end
    assert max(arrived_at) < 1.5


def test_decoded_chunks_are_the_samples_of_decode_parts(speech: np.ndarray) -> None:
    buf = io.BytesIO()
    sf.write(buf, np.tile(speech, 5)[::2], SAMPLE_RATE // 2, format="FLAC")  # 8 kHz: resampled
    parts = [(buf.getvalue(), "audio/flac"), ((speech * 20000).astype("<i2").tobytes(), "audio/l16;rate=16000")]
    chunks = list(decoded_chunks(parts))
    assert len(chunks) > 10 and max(len(c) for c in chunks) < SAMPLE_RATE * 5
    assert np.array_equal(np.concatenate(chunks), decode_parts(parts))


@pytest.mark.parametrize("options", [{}, {"end_of_phrase_silence": 0.3}, {"end_of_phrase_silence": 1.5}])
def test_open_span_and_tentative_segment_foretell_each_segment(clips: list[np.ndarray], options: dict) -> None:
    """As 100 ms frames arrive (analysed frame by frame): each segment starts where the open span said and
    holds at least what it said was sure; and before it is returned, `tentative` gave exactly it while the
    rest of its silence was still to come (when that silence is longer than its padding twice), and `ending`
    its start and the end of its speech as soon as the speech paused."""
    audio = speech_with_pauses(clips, [0.4, 1.2, 2.0, 1.0, 0.9, 3.0, 1.6, 0.6, 2.2, 1.1], noise=0.003)
    splitter = UtteranceSplitter(step_frames=1, **options)
    span: tuple[int, int] | None = None
    tentative: Segment | None = None
    ending: tuple[int, int] | None = None
    early = ended = 0
    out = []
    for i in itertools.chain(range(0, len(audio), 1600), [None]):
        segments = splitter.push(audio[i : i + 1600]) if i is not None else splitter.finish()
        for seg in segments:
            assert span is not None
            start = round(seg.start * SAMPLE_RATE)
            assert start == span[0] and start + len(seg.samples) >= span[1]
            if tentative is not None and i is not None:
                assert (tentative.start, tentative.end) == (seg.start, seg.end)
                assert np.array_equal(tentative.samples, seg.samples)
                early += 1
            if ending is not None and i is not None:
                assert (ending[0], ending[1] + TRAILING_PAD) == (start, start + len(seg.samples))
                ended += 1
            out.append(seg)
            span = tentative = ending = None
        span = splitter.open_span() or span
        tentative = splitter.tentative()
        ending = splitter.ending(0.09) or (ending if splitter.open_span() else None)
    assert same(out, split_utterances(audio, **options))
    if options.get("end_of_phrase_silence", 0.8) >= 0.5:  # twice the padding: the segment is known before
        assert early >= len(out) - 1  # all but perhaps the last (ended by the end of the audio) were foretold
        assert ended >= len(out) - 1  # and their speech's end as soon as it paused
