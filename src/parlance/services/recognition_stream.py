"""Streaming recognition (the WebSocket): audio decoded, split at pauses and recognized while it arrives.

Each phrase is decoded once, when the voice activity detector finds its end (`end_of_phrase_silence_time`
of silence), becomes a final result with the next `result_index`, and its samples are dropped; interim
results decode only the phrase in progress. So memory and CPU per second of audio stay flat however long
the session lasts. Every method blocks (decoding and engines): callers run them on the engine pool, one at
a time per stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from parlance.audio.stream_decode import StreamDecoder
from parlance.audio.utterances import UtteranceSplitter
from parlance.audio.vad import Segment
from parlance.services.recognition import Prepared, RecognitionService, _no_speech

Message = dict[str, Any]  # one `SpeechRecognitionResults` message


class RecognitionStream:
    """One request's audio as it arrives. With `per_phrase`, each final result is its own message as soon
    as its phrase ends (Watson with `interim_results`); otherwise all come in one message at the end, the
    same as `recognize` gives for the same audio."""

    def __init__(
        self, service: RecognitionService, prepared: Prepared, content_type: str | None, *, per_phrase: bool
    ) -> None:
        self._service, self._prepared, self._per_phrase = service, prepared, per_phrase
        # 415 or 400 for a type or parameters refused. No duration limit: a stream lasts as long as audio comes.
        self._decoder = StreamDecoder(content_type, max_seconds=math.inf)
        # background_audio_suppression compares with the loudest speech so far (the whole audio is not here)
        self._splitter = UtteranceSplitter(**service._split_options(prepared.params))
        self.result_index = 0  # of the next final result
        self._results: list[dict[str, Any]] = []  # final results kept for the one message (not per phrase)
        self._last: dict[str, Any] | None = None  # the result of the last phrase, if it had one
        self._phrases = 0
        self._sent_warnings = False

    @staticmethod
    def supports(content_type: str | None) -> bool:
        return StreamDecoder.incremental(content_type)

    def feed(self, data: bytes) -> list[Message]:
        """Take more audio; the final results it completed (per phrase only). Fails with "No speech detected"
        once the audio since the last speech reaches `inactivity_timeout`."""
        segments = [seg for chunk in self._decoder.feed(data) for seg in self._splitter.push(chunk)]
        messages = self._finals(segments)
        timeout = self._prepared.params.inactivity_timeout
        if 0 <= timeout <= self._splitter.seconds - self._splitter.heard_until:
            raise _no_speech(timeout)
        return messages

    def interim(self) -> Message | None:
        """A hypothesis for the phrase in progress (`final: false`), or None when no phrase is open."""
        phrase = self._splitter.in_progress()
        result = self._recognize(phrase) if phrase is not None else None
        if result is None:
            return None
        result["final"] = False
        return self._message([result])

    def finish(self) -> list[Message]:
        """The final results left once all the audio has come (at least one message)."""
        segments = [seg for chunk in self._decoder.finish() for seg in self._splitter.push(chunk)]
        messages = self._finals(segments + self._splitter.finish())
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

    def _finals(self, segments: list[Segment]) -> list[Message]:
        messages = []
        for seg in segments:
            self._phrases += 1
            self._last = result = self._recognize(seg)
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

    def _recognize(self, segment: Segment) -> dict[str, Any] | None:
        model = self._service.pool.model(self._prepared.version)
        alternatives = self._service._alternatives(model, segment.samples, self._prepared)
        if not alternatives or not alternatives[0].transcript.strip():
            return None
        return self._service._result(alternatives, segment.start, self._prepared.params)

    def _message(self, results: list[dict[str, Any]], start: int | None = None, extra: Sequence[str] = ()) -> Message:
        index = self.result_index if start is None else start
        message: Message = {"result_index": index, "results": results}
        warnings = [] if self._sent_warnings else list(self._prepared.warnings)
        warnings += extra
        if warnings:
            message["warnings"] = warnings
            self._sent_warnings = True
        return message
