"""split_utterances / has_speech on real speech, digital silence, noise and tones."""

from __future__ import annotations

import numpy as np
import pytest
import webrtcvad

from parlance.audio.vad import FRAME, PAD_SECONDS, Segment, has_speech, split_utterances
from parlance.engines.base import SAMPLE_RATE


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def noise(seconds: float, amplitude: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, amplitude, int(seconds * SAMPLE_RATE)).astype(np.float32)


def check_layout(segments: list[Segment], audio: np.ndarray, max_utterance: float) -> None:
    """Ordered, non-overlapping, within the audio, no longer than allowed, views of the input."""
    previous_end = 0.0
    for seg in segments:
        assert previous_end <= seg.start < seg.end <= len(audio) / SAMPLE_RATE
        assert seg.duration <= max_utterance + 1e-9
        assert len(seg.samples) == round((seg.end - seg.start) * SAMPLE_RATE)
        assert np.shares_memory(seg.samples, audio)
        previous_end = seg.end


def test_two_clips_separated_by_two_seconds_give_two_segments(clips: list[np.ndarray]) -> None:
    first, second = clips[0], clips[1]
    audio = np.concatenate([first, silence(2.0), second])
    segments = split_utterances(audio)
    assert len(segments) == 2
    check_layout(segments, audio, 28.0)
    gap_start, gap_end = len(first) / SAMPLE_RATE, len(first) / SAMPLE_RATE + 2.0
    assert segments[0].start == pytest.approx(0.0, abs=0.3)
    assert gap_start - 0.6 < segments[0].end <= gap_start + PAD_SECONDS + 0.05
    assert gap_end - PAD_SECONDS - 0.05 <= segments[1].start < gap_end + 0.6
    assert segments[1].end == pytest.approx(len(audio) / SAMPLE_RATE, abs=0.3)


def test_pause_shorter_than_end_of_phrase_silence_does_not_split(clips: list[np.ndarray]) -> None:
    audio = np.concatenate([clips[0], silence(2.0), clips[1]])
    assert len(split_utterances(audio, end_of_phrase_silence=3.0)) == 1
    assert len(split_utterances(audio, end_of_phrase_silence=1.5)) == 2


def test_speech_in_light_background_noise_is_still_found(clips: list[np.ndarray]) -> None:
    audio = np.concatenate([clips[0], silence(2.0), clips[1]])
    audio = audio + noise(len(audio) / SAMPLE_RATE, 0.01, seed=5)
    assert len(split_utterances(audio)) == 2


def test_a_single_clip_is_one_utterance(speech: np.ndarray) -> None:
    segments = split_utterances(speech)
    assert len(segments) == 1 and segments[0].duration > 0.9 * len(speech) / SAMPLE_RATE
    assert has_speech(speech)


@pytest.mark.parametrize(
    ("label", "audio"),
    [
        ("digital silence", silence(10.0)),
        ("gaussian noise 0.1", noise(10.0, 0.1)),
        ("gaussian noise 0.3", noise(10.0, 0.3, seed=1)),
        ("gaussian noise 0.01", noise(10.0, 0.01, seed=2)),
        ("uniform noise", np.random.default_rng(3).uniform(-0.5, 0.5, 160000).astype(np.float32)),
        ("440 Hz tone", (0.1 * np.sin(2 * np.pi * 440 * np.arange(160000) / SAMPLE_RATE)).astype(np.float32)),
        ("too short", silence(0.02)),
        ("empty", silence(0.0)),
    ],
)
def test_audio_without_speech_gives_no_segments(label: str, audio: np.ndarray) -> None:
    assert split_utterances(audio) == []
    assert not has_speech(audio)


def test_webrtcvad_alone_would_call_noise_speech() -> None:
    """Why the extra checks exist: the raw detector flags most white-noise frames."""
    vad = webrtcvad.Vad(2)
    pcm = (noise(3.0, 0.1) * 32767).astype("<i2").reshape(-1, FRAME)
    assert np.mean([vad.is_speech(frame.tobytes(), SAMPLE_RATE) for frame in pcm]) > 0.5


def test_long_audio_is_cut_below_max_utterance(clips: list[np.ndarray]) -> None:
    audio = np.concatenate([clip for _ in range(3) for clip in clips])  # ~74 s, no long pauses
    assert len(audio) / SAMPLE_RATE > 60
    for limit in (28.0, 10.0):
        segments = split_utterances(audio, max_utterance=limit)
        check_layout(segments, audio, limit)
        covered = sum(seg.duration for seg in segments)
        assert covered > 0.9 * len(audio) / SAMPLE_RATE


def test_long_utterance_is_cut_at_the_quiet_point(clips: list[np.ndarray]) -> None:
    """A 0.5 s pause does not end a phrase, but is where a too-long utterance gets cut."""
    first = len(clips[0]) / SAMPLE_RATE  # 7.1 s
    audio = np.concatenate([clips[0], silence(0.5), clips[3], clips[4]])
    segments = split_utterances(audio, max_utterance=10.0)
    check_layout(segments, audio, 10.0)
    assert first <= segments[0].end <= first + 0.5


def test_segments_keep_padding_but_never_overlap(clips: list[np.ndarray]) -> None:
    audio = np.concatenate([clips[1], silence(0.3), clips[2]])
    segments = split_utterances(audio, end_of_phrase_silence=0.1)
    check_layout(segments, audio, 28.0)
    assert len(segments) >= 2
    assert all(later.start >= earlier.end for earlier, later in zip(segments, segments[1:], strict=False))


def test_invalid_arguments_raise_value_error(speech: np.ndarray) -> None:
    with pytest.raises(ValueError):
        split_utterances(speech, end_of_phrase_silence=0)
    with pytest.raises(ValueError):
        split_utterances(speech, max_utterance=0.5)
    with pytest.raises(ValueError):
        split_utterances(speech, sensitivity=1.5)
    with pytest.raises(ValueError):
        split_utterances(speech, background_suppression=-0.1)
    with pytest.raises(ValueError, match="one-dimensional"):
        split_utterances(np.stack([speech, speech]))


def test_background_suppression_drops_quiet_speech(clips: list[np.ndarray]) -> None:
    quiet = clips[1] * 10 ** (-35 / 20)  # a second talker 35 dB below the first
    audio = np.concatenate([clips[0], silence(2.0), quiet])
    assert len(split_utterances(audio)) == 2  # by default both are speech
    assert len(split_utterances(audio, background_suppression=0.3)) == 2  # 42 dB below the loud speech: kept
    kept = split_utterances(audio, background_suppression=0.5)  # 30 dB below: dropped
    assert len(kept) == 1 and kept[0].end < len(clips[0]) / SAMPLE_RATE + 1.0
    assert split_utterances(audio, background_suppression=1.0) == []


def test_speech_detector_sensitivity(clips: list[np.ndarray]) -> None:
    hum = noise(3.0, 0.05, seed=2)  # stationary noise: never speech at the default sensitivity
    assert split_utterances(hum) == []
    assert len(split_utterances(hum, sensitivity=1.0)) == 1  # detection off: all audio is transcribed
    assert split_utterances(clips[0], sensitivity=0.0) == []  # nothing is speech
    for level in (0.2, 0.5, 0.8):
        assert len(split_utterances(clips[0], sensitivity=level)) == 1
