"""Streaming recognition (the WebSocket): audio decoded, split at pauses and recognized while it arrives.

Each phrase becomes a final result with the next `result_index` as soon as the voice activity detector
finds its end (`end_of_phrase_silence_time` of silence), and its samples are dropped, so memory and CPU per
second of audio stay flat however long the session lasts. The segments are `recognize`'s (the same
`UtteranceSplitter`).

Final results, engines that decode incrementally (PocketSphinx): the phrase's samples go to a live decoder
as they arrive, from where its segment will start up to where it surely reaches
(`UtteranceSplitter.open_span`), so at the phrase's end only the search's last step is left. `recognize`
normalizes a segment's cepstra by the mean of its speech (`IncrementalModel.channel_of`: all but the
trailing padding), and a live decoder given that mean gives `recognize`'s words exactly. So as soon as the
speech pauses (`ENDING_PAUSE`), when the phrase may be ending, the live decoder starts again from the
phrase's start with the mean of the speech so far and catches up (`CATCH_UP` of audio per piece that
arrives, so that speech coming back is heard soon). If the phrase ends there, its final result is
`recognize`'s, with only the last step left; if speech comes back, the decoder goes on with that mean until
the next pause. A start again costs decoding the phrase so far (PocketSphinx takes 0.1 to 0.2 s per second
of audio here), so it is made for a phrase up to `WHOLE_PHRASE` long, and for a longer one when the stream's
measured decoding speed says it will be done by `WHOLE_DUE` after the speech ended at the audio's pace
(audio sent faster than real time: always). Otherwise the decoder keeps the running estimate it started
with, which each phrase hands to the next (`channel`; the stream's first phrase learns one from its first
second, `PRIME_CHANNEL`, and is decoded again from its start with it), and its result is the final one:
the running estimate gained on some voices and lost on others (WER from -4 to +7 points on the LibriVox clips
and four flite voices, `bench/live_cmn.py`).

Final results, other engines (Whisper), and phrases decoded whole: once about a third of a second of
silence follows a phrase, its segment is fixed if no more speech comes before `end_of_phrase_silence_time`
is over (`UtteranceSplitter.tentative`), so it is decoded then, exactly as `recognize` decodes it, and the
final result is ready when the silence is complete. If speech comes back, that decoding is wasted and done
again at the next pause.

Interim results: the live decoder's partial hypothesis (nearly free; none while it catches up after starting
again). Other engines re-decode the phrase so
far (greedily) about once a second of audio, twice as often with `low_latency`, on another engine worker, so
that a re-decoding in progress never holds back a phrase's final decoding (its hypothesis is shown at the
next feed after it is ready; one still running when the phrase ends is waited for and shown just before
the final result), and not once a pause began (`PAUSED`): the phrase may be ending, and its final decoding
is better off alone on the CPU.

Interim text does not flicker: a word prefix two consecutive hypotheses agree on stays as it was shown
(local agreement); the final result is the phrase's own decoding. Every method blocks (decoding and
engines) and is serialized by a lock: callers run them on engine workers, one at a time per stream.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, cast

from parlance.audio.stream_decode import StreamDecoder
from parlance.audio.utterances import UtteranceSplitter
from parlance.audio.vad import PAD_SECONDS, TRAILING_PAD, Segment
from parlance.engines.base import (
    SAMPLE_RATE,
    Alternative,
    Channel,
    IncrementalModel,
    LoadedModel,
    UtteranceDecoder,
    Word,
)
from parlance.errors import ParlanceError
from parlance.services.memory_trim import trim
from parlance.services.recognition import Prepared, RecognitionService, _no_speech

Message = dict[str, Any]  # one `SpeechRecognitionResults` message

INTERIM_EVERY = 1.0  # seconds of audio between re-decoded interim results (at least twice their cost)
INTERIM_EVERY_LOW_LATENCY = 0.5
# Seconds of speech before a re-decoding engine first tries an interim result (from a quarter second Whisper
# often found no words, and the retry a re-decoding later made the first interim 1.80 s late, median, not 1.22)
FIRST_INTERIM_AFTER = 0.5
INTERIM_RETRY = 0.25  # seconds of audio before trying again when a phrase has no words yet
PAUSED = 0.1  # seconds of silence after which a phrase is not re-decoded for an interim result
# Seconds of a stream's first phrase from which an incremental engine learns the channel (see the module)
PRIME_CHANNEL = 1.0
# Longest phrase an incremental engine always decodes as `recognize` does (started again at a pause, or whole):
# PocketSphinx decodes 5 to 10 s of audio per second here, so that is done before the 0.8 s of silence are.
WHOLE_PHRASE = 3.0
# A longer phrase is decoded as `recognize` does as well when that is predicted to be done this many seconds
# after its speech ended, at the audio's pace (the Broadband target is 1.0 s, and the result still has to be
# sent): the prediction is the phrase's duration times the slowest of the stream's recent such decodings per
# second of audio (`_speeds`; with their median, 5.6 s phrases were decoded in time too, but one final came
# 1.16 s after its phrase). Audio sent faster than real time leaves all the time needed.
WHOLE_DUE = 0.85
# Seconds of pause in a phrase's speech after which an incremental engine starts decoding it as `recognize`
# will if the phrase ends there (wasted when speech resumes): a third of a second before its segment is known
ENDING_PAUSE = 0.09
CATCH_UP = 1.5  # seconds of the phrase such a decoding takes on per piece of audio (it stops when speech resumes)
SPEED_KEPT = 5  # whole decodings whose speed is kept
ASSUMED_SPEED = 0.25  # seconds per second of audio before one was measured (measured here: 0.09 to 0.17)


@dataclass
class _Live:
    """The open phrase's incremental decoder, fed from sample `start` (absolute) on: normalized by the stream's
    channel, or after a pause in the phrase's speech by the mean of its speech up to `speech_end`; then, if the
    phrase ends there, it decodes the phrase's segment as `recognize` does (`exact`)."""

    start: int
    decoder: UtteranceDecoder
    speech_end: int | None = None
    seconds: float = 0.0  # spent feeding it

    @property
    def end(self) -> int:
        return self.start + self.decoder.fed

    @property
    def exact(self) -> tuple[int, int] | None:
        """The segment (`_key`) it decodes as `recognize` does, if any."""
        return None if self.speech_end is None else (self.start, self.speech_end - self.start + TRAILING_PAD)


@dataclass
class _Shown:
    """Interim results of the phrase in progress: what was shown, and the words agreed on so far."""

    phrase: int  # first sample of the phrase's segment
    agreed: list[Word]
    previous: list[str] | None = None
    transcript: str = ""
    at: float = -math.inf  # seconds of audio at the last (re-decoding) attempt
    cost: float = 0.0  # seconds that attempt took
    pending: Future[tuple[list[Alternative], float]] | None = None  # a re-decoding running: (result, cost)


class RecognitionStream:
    """One request's audio as it arrives. With `per_phrase`, each final result is its own message as soon
    as its phrase ends, and interim results come between (Watson with `interim_results`); otherwise all come
    in one message at the end, the same as `recognize` gives for the same audio."""

    def __init__(
        self,
        service: RecognitionService,
        prepared: Prepared,
        content_type: str | None,
        *,
        per_phrase: bool,
        clock: Callable[[], float] = time.monotonic,  # what the audio's pace is measured by
    ) -> None:
        self._service, self._prepared, self._per_phrase, self._clock = service, prepared, per_phrase, clock
        # 415 or 400 for a type or parameters refused. No duration limit: a stream lasts as long as audio comes.
        self._decoder = StreamDecoder(content_type, max_seconds=math.inf)
        # background_audio_suppression compares with the loudest speech so far (the whole audio is not here);
        # every 30 ms frame is analysed as soon as it is complete
        self._splitter = UtteranceSplitter(**service._split_options(prepared.params), step_frames=1)
        self._incremental = prepared.capabilities.incremental_decoding
        options = prepared.options
        if prepared.capabilities.low_latency:  # hypotheses only: greedy decoding, about twice as fast
            options = replace(options, low_latency=True, word_alternatives=False)
        self._interim_options = options
        self._interim_every = INTERIM_EVERY_LOW_LATENCY if prepared.params.low_latency else INTERIM_EVERY
        self._model: LoadedModel | None = None
        self._live: _Live | None = None
        self._channel: Channel | None = None  # what the last live decoder learned of the audio channel
        self._early: tuple[tuple[int, int], list[Alternative]] | None = None  # a segment decoded before its end
        self._speeds: deque[float] = deque(maxlen=SPEED_KEPT)  # whole decodings' seconds per audio second
        self._live_work = [0.0, 0.0]  # seconds the live decoders took, seconds of audio they were fed
        self._started: float | None = None  # when the first audio came: the audio's pace (`_decodes_whole`)
        self._shown: _Shown | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.result_index = 0  # of the next final result
        self._results: list[dict[str, Any]] = []  # final results kept for the one message (not per phrase)
        self._last: dict[str, Any] | None = None  # the result of the last phrase, if it had one
        self._phrases = 0
        self._sent_warnings = False

    @staticmethod
    def supports(content_type: str | None) -> bool:
        return StreamDecoder.incremental(content_type)

    def feed(self, data: bytes) -> list[Message]:
        """Take more audio; the final results it completed and, per phrase, an interim result for the phrase
        in progress when there is news. Fails with "No speech detected" once the audio since the last speech
        reaches `inactivity_timeout`."""
        with self._lock:
            if self._started is None:
                self._started = self._clock()
            messages = []
            for chunk in self._decoder.feed(data):
                messages += self._finals(self._splitter.push(chunk))
                self._follow()
            interim = self._interim() if self._per_phrase else None
            if interim is not None:
                messages.append(interim)
            if self._closed:
                self._close_live()
            timeout = self._prepared.params.inactivity_timeout
            if 0 <= timeout <= self._splitter.seconds - self._splitter.heard_until:
                raise _no_speech(timeout)
            return messages

    def finish(self) -> list[Message]:
        """The final results left once all the audio has come (at least one message)."""
        with self._lock:
            segments = [seg for chunk in self._decoder.finish() for seg in self._splitter.push(chunk)]
            messages = self._finals(segments + self._splitter.finish())
            self._close_live()
            if self._last is not None and "end_of_utterance" in self._last:
                self._last["end_of_utterance"] = "end_of_data"
            warnings = []
            params = self._prepared.params
            if params.grammar_name and self._phrases and self.result_index == 0:
                warnings.append(f"No phrase of grammar '{params.grammar_name}' matched the audio well enough.")
            if not self._per_phrase:
                return [self._message(self._results, start=0, extra=warnings)]
            if messages or self.result_index:
                return messages
            return [self._message([], extra=warnings)]

    def close(self) -> None:
        """Let go of the phrase in progress (the request ended without `finish`). Never waits: a feed still
        running on a worker lets go of it when it ends."""
        self._closed = True
        if self._lock.acquire(blocking=False):
            try:
                self._close_live()
            finally:
                self._lock.release()

    # -- final results ------------------------------------------------------------------------------
    def _finals(self, segments: list[Segment]) -> list[Message]:
        messages = []
        for seg in segments:
            self._phrases += 1
            interim = self._last_interim(seg) if self._per_phrase else None
            if interim is not None:
                messages.append(interim)
            self._last = result = self._final(seg)
            trim()  # the phrase's buffers are freed: keep a long stream's memory flat
            if result is None:
                continue
            params = self._prepared.params
            if params.split_transcript_at_phrase_end or params.end_of_phrase_silence_time:
                result["end_of_utterance"] = "silence"
            if self._per_phrase:
                messages.append(self._message([result]))
            else:
                self._results.append(result)
            self.result_index += 1
        return messages

    def _final(self, segment: Segment) -> dict[str, Any] | None:
        early = self._early[1] if self._early is not None and self._early[0] == _key(segment) else None
        self._early = None
        exact = self._live is not None and self._live.exact == _key(segment)
        # decided before the live decoder updates the channel
        whole = early is None and not exact and self._decodes_whole(segment)
        live = self._finish_live(segment)
        if early is not None:
            alternatives = early
        elif live is not None and not whole:
            alternatives = live
        else:
            alternatives = self._decode_whole(segment)
        return self._result(segment, alternatives)

    def _decode_whole(self, segment: Segment) -> list[Alternative]:
        """The segment decoded as `recognize` decodes it, timed (`_speeds`)."""
        started = time.perf_counter()
        alternatives = self._model_().transcribe(segment.samples, self._prepared.options, speech=segment.speech)
        self._speeds.append((time.perf_counter() - started) / max(segment.duration, 0.1))
        return alternatives

    def _finish_live(self, segment: Segment) -> list[Alternative] | None:
        """The live decoder's result for the segment, if it decoded exactly the segment from its start; the
        channel it learned is kept, and the speed of an exact decoder (`_speeds`)."""
        live, self._live = self._live, None
        if live is None:
            return None
        start, length = _key(segment)
        if live.start != start or live.end > start + length:  # a long utterance cut short, or not this segment
            live.decoder.close()
            return None
        started = time.perf_counter()
        live.decoder.feed(segment.samples[live.end - start :])
        alternatives = live.decoder.finish()
        if live.exact == (start, length):
            self._speeds.append((live.seconds + time.perf_counter() - started) / max(segment.duration, 0.1))
        self._channel = live.decoder.channel or self._channel
        return alternatives

    def _decodes_whole(self, segment: Segment) -> bool:
        """Whether the open phrase, if it is `segment`, is decoded whole now (see the module)."""
        if not (self._per_phrase and self._incremental) or self._channel is None:
            return True
        return segment.duration <= WHOLE_PHRASE or self._in_time(segment.duration, segment.end - PAD_SECONDS)

    def _speed(self) -> float:
        """Seconds of decoding per second of audio: the slowest of the recent whole decodings or, before one was
        timed, the live decoders' so far (the same search, as the audio comes)."""
        spent, fed = self._live_work
        return max(self._speeds) if self._speeds else spent / fed if fed >= 1.0 else ASSUMED_SPEED

    def _in_time(self, duration: float, speech_end: float) -> bool:
        """Whether decoding `duration` seconds of phrase from now on is predicted to be done `WHOLE_DUE` after
        `speech_end` (seconds into the stream), at the audio's pace."""
        predicted = self._speed() * duration
        now = self._clock()
        return now + predicted <= (self._started if self._started is not None else now) + speech_end + WHOLE_DUE

    def _result(self, segment: Segment, alternatives: list[Alternative]) -> dict[str, Any] | None:
        alternatives = self._service._selected(self._model_(), segment.samples, self._prepared, alternatives)
        if not alternatives or not alternatives[0].transcript.strip():
            return None
        prepared = self._prepared
        return self._service._result(alternatives, segment.start, prepared.params, prepared.version.language)

    def _follow(self) -> None:
        """Keep the open phrase's decoding up with the audio (per phrase only): decode the segment it becomes
        if no more speech comes as soon as that is known, and feed an incremental decoder (interim results)."""
        if not self._per_phrase:
            return
        tentative = self._splitter.tentative()
        if tentative is not None and (self._early is None or self._early[0] != _key(tentative)):
            exact = self._live is not None and self._live.exact == _key(tentative)
            if not exact and self._decodes_whole(tentative):
                self._early = (_key(tentative), self._decode_whole(tentative))
        if not self._incremental:
            return
        span = self._splitter.open_span()
        if span is None or (self._live is not None and self._live.start != span[0]):
            self._close_live()
        if span is None:
            return
        exact = self._restart_at_pause(span[0])
        if self._live is None:
            self._live = self._open_live(span[0])
        live = self._live
        target = sum(live.exact) if exact and live.exact is not None else span[1]  # not past the padding
        until = min(round(self._splitter.seconds * SAMPLE_RATE), target, live.end + round(CATCH_UP * SAMPLE_RATE))
        if until > live.end:
            started, fed = time.perf_counter(), until - live.end
            live.decoder.feed(self._splitter.samples(live.end, until))
            live.seconds += time.perf_counter() - started
            if live.speech_end is None:
                self._live_work[0] += time.perf_counter() - started
                self._live_work[1] += fed / SAMPLE_RATE
        if self._channel is None and live.speech_end is None and live.decoder.fed >= PRIME_CHANNEL * SAMPLE_RATE:
            self._prime_channel(span)

    def _restart_at_pause(self, start: int) -> bool:
        """Whether the live decoder decodes the open phrase as `recognize` will if it ends at the pause its speech
        makes now (`ENDING_PAUSE`). At a new pause it starts again from the phrase's start normalized by the mean
        of its speech so far, when that decoding is predicted to be done in time (see the module)."""
        ending = self._splitter.ending(ENDING_PAUSE)
        if ending is None or ending[0] != start:
            return False
        if self._live is not None and self._live.speech_end == ending[1]:
            return True
        duration = (ending[1] - start + TRAILING_PAD) / SAMPLE_RATE
        if duration > WHOLE_PHRASE and not self._in_time(duration, ending[1] / SAMPLE_RATE):
            return False  # a decoder started at an earlier pause goes on as the live one
        self._close_live()
        model = cast(IncrementalModel, self._model_())
        channel = model.channel_of(self._splitter.samples(start, ending[1]), self._prepared.options)
        self._live = _Live(start, model.open_utterance(self._prepared.options, channel), ending[1])
        return True

    def _prime_channel(self, span: tuple[int, int]) -> None:
        """Learn the channel from the stream's first second of phrase and decode that phrase again with it."""
        live, self._live = cast(_Live, self._live), None
        live.decoder.finish()
        self._channel = live.decoder.channel
        self._live = self._open_live(span[0])
        self._live.decoder.feed(self._splitter.samples(span[0], span[1]))

    def _open_live(self, start: int) -> _Live:
        model = cast(IncrementalModel, self._model_())
        return _Live(start, model.open_utterance(self._prepared.options, self._channel))

    def _close_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.decoder.close()

    def _model_(self) -> LoadedModel:
        if self._model is None:  # loaded here, on an engine worker, not where the stream is made
            self._model = self._service.pool.model(self._prepared.version)
        return self._model

    # -- interim results ----------------------------------------------------------------------------
    def _interim(self) -> Message | None:
        """An interim result (`final: false`) for the phrase in progress when its text changed."""
        phrase = self._splitter.in_progress()
        span = self._splitter.open_span()
        if phrase is None or span is None:
            self._shown = None
            return None
        if self._shown is None or self._shown.phrase != span[0]:
            self._shown = _Shown(span[0], [])
        return self._shown_message(phrase, self._shown, self._hypothesis(phrase, self._shown))

    def _last_interim(self, segment: Segment) -> Message | None:
        """The interim result of a re-decoding still running when its phrase ended, shown before the final
        one (it ran beside the final decoding; audio sent faster than real time gets interim results too)."""
        shown = self._shown
        if shown is None or shown.pending is None or shown.phrase != round(segment.start * SAMPLE_RATE):
            return None
        return self._shown_message(segment, shown, self._redecoded(shown))

    def _shown_message(self, phrase: Segment, shown: _Shown, best: Alternative | None) -> Message | None:
        if best is None or not best.words:
            return None
        words = self._agreed(best.words, shown)
        transcript = " ".join(w.text for w in words)
        if transcript == shown.transcript:
            return None
        shown.transcript = transcript
        result = self._result(phrase, [Alternative(transcript, best.confidence, tuple(words))])
        if result is None:
            return None
        result["final"] = False
        return self._message([result])

    def _hypothesis(self, phrase: Segment, shown: _Shown) -> Alternative | None:
        if self._early is not None and self._early[0][0] == shown.phrase:
            early = self._early[1]  # decoded already: the phrase if it ends now
            return early[0] if early else None
        if self._live is not None:  # None while it catches up after a restart: what it heard so far is less
            behind = self._live.end + SAMPLE_RATE // 4 < (self._splitter.open_span() or (0, 0))[1]
            return None if behind else self._live.decoder.partial()
        if shown.pending is not None:
            return self._redecoded(shown) if shown.pending.done() else None
        seconds = self._splitter.seconds
        wait = max(self._interim_every, 2 * shown.cost) if shown.transcript else INTERIM_RETRY
        if phrase.duration - PAD_SECONDS < FIRST_INTERIM_AFTER or seconds - shown.at < wait:
            return None
        if seconds - self._splitter.heard_until > PAUSED:
            return None  # the phrase may be ending: its final decoding is better off alone on the CPU
        shown.at = seconds
        model, samples, options = self._model_(), phrase.samples, self._interim_options

        def redecode() -> tuple[list[Alternative], float]:
            started = time.perf_counter()
            return model.transcribe(samples, options), time.perf_counter() - started

        try:
            shown.pending = self._service.pool.submit(redecode, wait=False)
        except ParlanceError:  # every engine worker and queue slot is taken: no interim result this time
            pass
        return None

    @staticmethod
    def _redecoded(shown: _Shown) -> Alternative | None:
        """The best hypothesis of the pending re-decoding (waiting for it)."""
        pending, shown.pending = shown.pending, None
        if pending is None:
            return None
        try:
            alternatives, shown.cost = pending.result()
        except ParlanceError:  # e.g. the service is full: the next attempt or the final result tells
            return None
        return alternatives[0] if alternatives else None

    @staticmethod
    def _agreed(words: Sequence[Word], shown: _Shown) -> list[Word]:
        """Local agreement: the longest prefix of the last two hypotheses stays fixed from then on."""
        texts = [w.text for w in words]
        if shown.previous is not None:
            same = 0
            for a, b in zip(shown.previous, texts, strict=False):
                if a != b:
                    break
                same += 1
            if same > len(shown.agreed):
                shown.agreed = list(words[:same])
        shown.previous = texts
        return shown.agreed + list(words[len(shown.agreed) :])

    def _message(self, results: list[dict[str, Any]], start: int | None = None, extra: Sequence[str] = ()) -> Message:
        index = self.result_index if start is None else start
        message: Message = {"result_index": index, "results": results}
        warnings = [] if self._sent_warnings else list(self._prepared.warnings)
        warnings += extra
        if warnings:
            message["warnings"] = warnings
            self._sent_warnings = True
        return message


def _key(segment: Segment) -> tuple[int, int]:
    """A segment's first sample and length: which phrase, and how much of it."""
    return round(segment.start * SAMPLE_RATE), len(segment.samples)
