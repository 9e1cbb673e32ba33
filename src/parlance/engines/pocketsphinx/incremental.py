"""One utterance decoded by PocketSphinx while its audio arrives (the WebSocket).

The first pass (fwdtree) runs on each piece as it is fed, so a partial hypothesis costs a backtrace
and, at the utterance's end, `end_utt` and the result building are all that is left (about 20 ms where
decoding a 7 s phrase whole takes a second). The pieces get the same dither draws as the whole utterance
would (one generator for all of them).

Cepstral mean normalization: `transcribe` normalizes a segment by the mean of its speech (all but the
trailing padding, `PocketSphinxModel.channel_of`), a live utterance by the channel it is opened with. Opened
with that mean it gives `transcribe`'s words exactly (a stream knows the mean once the speech pauses);
opened with the mean the stream's previous utterance ended with (`channel`), or the acoustic model's
`cmninit`, it starts from an estimate (`bench/live_cmn.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from parlance.engines.base import Alternative, Channel, DecodeOptions
from parlance.engines.pocketsphinx.decoder_pool import DecoderPool
from parlance.engines.pocketsphinx.decoding import begin_utterance, checked_audio, segment_words, to_pcm16

if TYPE_CHECKING:
    from parlance.engines.pocketsphinx.model import PocketSphinxModel


class SphinxUtterance:
    def __init__(
        self,
        model: PocketSphinxModel,
        pool: DecoderPool,
        options: DecodeOptions,
        display: dict[str, str],
        channel: Channel | None = None,
    ) -> None:
        self._model, self._pool, self._options, self._display = model, pool, options, display
        self._rng = np.random.default_rng(0)  # as `to_pcm16` seeds it for a whole utterance
        self._decoder: Any = pool.take()
        self.fed = 0
        self.channel: Channel | None = None  # the cepstral mean at the end (a comma-separated string)
        try:
            begin_utterance(self._decoder)
            if isinstance(channel, str):
                self._decoder.set_cmn(channel)
        except BaseException:
            self._decoder = None  # not returned: its state is unknown
            raise

    def feed(self, audio: np.ndarray) -> None:
        audio = checked_audio(audio)
        if not audio.size:
            return
        self._decoder.process_raw(to_pcm16(audio, rng=self._rng), full_utt=False)
        self.fed += audio.size

    def partial(self) -> Alternative | None:
        if self._decoder is None or self._decoder.hyp() is None:
            return None
        words = segment_words(self._decoder, self._display, final=False)
        return Alternative(" ".join(w.text for w in words), 0.0, tuple(words)) if words else None

    def finish(self) -> list[Alternative]:
        decoder, self._decoder = self._decoder, None
        decoder.end_utt()  # if this or the results raise, the decoder is dropped, not reused
        alternatives = self._model.results(decoder, self._options, self._display) if self.fed else []
        self.channel = decoder.get_cmn(True) if self.fed else None  # the running mean, updated with this utterance
        self._pool.give(decoder)
        return alternatives

    def close(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        try:
            decoder.end_utt()
        except RuntimeError:
            return  # not reused
        self._pool.give(decoder)
