"""A loaded PocketSphinx version: decodes utterances, with or without a custom model or grammar.

Decoders are not thread-safe, so each loaded model keeps small pools of decoders (one pool per
dictionary/LM/grammar combination), created on demand and reused; noise statistics are reset
before every utterance (`start_stream`, see reference/sphinx-adaptation.md §2 item 7). A custom
model requested at another weight than it was trained with is re-interpolated once per weight.
Manifest `options` may pass extra decoder settings (`decoder`: {"maxhmmpf": 3000, ...}).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tempfile
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from parlance.engines.base import Alternative, Channel, CustomArtifact, DecodeOptions, ModelVersion
from parlance.engines.pocketsphinx import trigram_lm
from parlance.engines.pocketsphinx.decoder_pool import DecoderPool
from parlance.engines.pocketsphinx.decoding import begin_utterance, checked_audio, segment_words, to_pcm16
from parlance.engines.pocketsphinx.incremental import SphinxUtterance
from parlance.engines.pocketsphinx.lattice import clean_word, with_word_alternatives
from parlance.engines.pocketsphinx.version import model_files
from parlance.errors import BadRequest, EngineFailure

# maxhmmpf 3000 decodes about 1.6x faster than the default (30000) at the same WER on LibriVox.
# Without the second (flat-lexicon) pass, which runs over the whole utterance after the first, decoding takes
# a quarter less CPU and `end_utt` 0.02 s instead of up to 0.33 s on a 7 s utterance, at a WER as good or
# better (2026-12-07, whole utterances; with / without): LibriVox's 5 clips 26.8 / 25.4; the 16 finance
# sentences per flite voice: slt 47.5 / 45.5, rms 37.4 / 35.4; held out: awb 41.4 / 36.4, kal 78.8 / 78.8.
DEFAULT_DECODER = {"maxhmmpf": 3000, "fwdflat": False}
# Grammar (FSG) decoding: a stronger word insertion penalty and likelier silence stop a digit from
# being added at the end of a digit string ("five oh" -> "five oh eight"). On bench/grammars.py's
# sentences sentence accuracy went from 76.7% to 81.1% (flite voices 54 -> 58 of 60), and on 60
# other utterances (another seed) from 73.3% to 80.0%. Without `bestpath` the result is the Viterbi
# path: the lattice PocketSphinx builds from an FSG search often loses the path to the final state, so
# the result was a partial sentence ("lady of diamonds" -> "lady of"; cmusphinx/pocketsphinx#318).
# That took the same sentences from 81.1% to 85.6% and the 60 other ones from 80.0% to 85.0%; word
# confidences are then PocketSphinx's segment scores rather than lattice posteriors.
GRAMMAR_DECODER = {"wip": 0.2, "silprob": 0.1, "bestpath": False}
_MAX_POOLS = 8
_NBEST_SCAN = 100  # n-best entries examined for distinct alternatives (many differ only in fillers)


@lru_cache(maxsize=16)
def _custom_meta(path: str, mtime: float) -> dict[str, Any]:
    return json.loads((Path(path) / "model.json").read_text())


class PocketSphinxModel:
    """A loaded version: decodes utterances with pools of decoders, thread-safe."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        self.files = model_files(version)
        for key, path in self.files.items():
            if not path.exists():
                raise EngineFailure(f"Model file missing for {version.version}: {path} ({key})")
        manifest = dict(version.options.get("decoder", {}))  # a version's own settings win
        self.decoder_options = {**DEFAULT_DECODER, **manifest}
        self.grammar_decoder_options = {**DEFAULT_DECODER, **GRAMMAR_DECODER, **manifest}
        self._pools: OrderedDict[tuple[str, str, str, str], DecoderPool] = OrderedDict()
        self._lock = threading.Lock()
        self._reweighted: dict[tuple[str, float], Path] = {}
        self._reweight_lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- decoder pools ---------------------------------------------------------------------
    def _make_decoder(self, dict_path: str, lm_path: str, grammar: str, acoustic: str = "") -> Any:
        from pocketsphinx import Decoder

        config: dict[str, Any] = {"hmm": str(self.files["hmm"]), "dict": dict_path, "loglevel": "FATAL"}
        if acoustic:  # a custom acoustic model: a paired model (hmm/), or an earlier version's MLLR transform
            adapted = Path(acoustic)
            if (adapted / "hmm").is_dir():
                config["hmm"] = str(adapted / "hmm")
            if (adapted / "mllr_matrix").is_file():
                config["mllr"] = str(adapted / "mllr_matrix")
        config.update(self.grammar_decoder_options if grammar else self.decoder_options)
        if grammar:
            config["lm"] = None
            config["fsg" if grammar.endswith(".fsg") else "jsgf"] = grammar
        else:
            config["lm"] = lm_path
        try:
            decoder = Decoder(**config)
            # A new decoder's first utterance gave other word confidences than its later ones (the phone-loop
            # search starts in another state); one utterance of silence makes every decoding a later one.
            begin_utterance(decoder)
            decoder.process_raw(to_pcm16(np.zeros(1600, dtype=np.float32)), full_utt=False)
            decoder.end_utt()
            return decoder
        except (RuntimeError, ValueError) as exc:
            if grammar:
                raise BadRequest(f"Cannot compile grammar: {exc}") from None
            raise EngineFailure(f"Cannot start PocketSphinx decoder: {exc}") from None

    def _pool(self, dict_path: str, lm_path: str, grammar: str, acoustic: str = "") -> DecoderPool:
        key = (dict_path, lm_path, grammar, acoustic)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = DecoderPool(lambda: self._make_decoder(*key))
                while len(self._pools) > _MAX_POOLS:
                    self._pools.popitem(last=False)
            self._pools.move_to_end(key)
            return pool

    def _custom_files(self, custom: CustomArtifact) -> tuple[str, str, dict[str, str]]:
        path = Path(custom.path)
        if not (path / "model.json").is_file():
            raise BadRequest(
                "Requested custom language model is not available. Please make sure the custom model is trained."
            )
        meta = _custom_meta(str(path), (path / "model.json").stat().st_mtime)
        lm = path / "custom.lm.bin"
        if custom.weight is not None and not math.isclose(custom.weight, meta["weight"], abs_tol=1e-6):
            lm = self._reweight(path, float(custom.weight), meta)
        return str(path / "custom.dict"), str(lm), meta.get("display", {})

    def _reweight(self, path: Path, weight: float, meta: dict[str, Any]) -> Path:
        """The custom model interpolated at another weight, built once per (model, weight)."""
        key = (str(path), round(weight, 4))
        with self._reweight_lock:
            if key in self._reweighted and self._reweighted[key].exists():
                return self._reweighted[key]
            custom = trigram_lm.TrigramLM.load(path / "custom_lm.npz")
            base = trigram_lm.load_base_lm(self.files["lm"])
            base = base.extend_vocabulary(custom.words[base.size :])
            out = self._scratch() / f"{hashlib.sha1(key[0].encode()).hexdigest()[:16]}-{key[1]}.lm.bin"
            mixed = trigram_lm.interpolate(base, custom, weight)
            ids = custom.word_ids()
            boosted = np.array([ids[w] for w in meta.get("boosted", ()) if w in ids], dtype=np.int64)
            mixed = trigram_lm.boost_words(mixed, boosted, float(meta.get("boost", 0.0)))
            trigram_lm.write_trie_bin(mixed, out)
            self._reweighted[key] = out
            return out

    # -- recognition -----------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray, options: DecodeOptions, *, speech: int | None = None) -> list[Alternative]:
        audio = checked_audio(audio)
        if audio.size == 0:
            return []
        utterance = self.open_utterance(options, self.channel_of(audio[:speech], options))  # as a stream's decoder
        utterance.feed(audio)
        return utterance.finish()

    def channel_of(self, speech: np.ndarray, options: DecodeOptions) -> str:
        """What `transcribe` normalizes an utterance by, from its `speech`: their cepstral mean. A segment is
        normalized by the mean of its samples before the trailing padding, which a stream knows as soon as the
        speech pauses (with the padding it would take `TRAILING_PAD` longer). On LibriVox and four flite voices
        the WER was as with the whole segment's mean (2026-12-08; the five sets' WER summed: 250.7 whole,
        246.0 without the padding)."""
        speech = checked_audio(speech)
        with self._mean_pool(options).acquire() as decoder:
            begin_utterance(decoder)
            initial = str(decoder.get_cmn(False))
            if speech.size:
                decoder.process_raw(to_pcm16(speech), no_search=True, full_utt=True)
            decoder.end_utt()
            mean = str(decoder.get_cmn(False))
            return initial if "nan" in mean.lower() else mean  # not one whole frame: the acoustic model's mean

    def _mean_pool(self, options: DecodeOptions) -> DecoderPool:
        """Decoders for cepstral means only. `end_utt` searches the frames of a `no_search` utterance (ending it
        otherwise crashes): with a one-word grammar that takes 10 ms for 7 s, not the 0.7 s of the language model."""
        with self._reweight_lock:
            grammar = self._scratch() / "mean.jsgf"
            if not grammar.exists():
                grammar.write_text("#JSGF V1.0;\ngrammar mean;\npublic <mean> = a;\n")
        return self._pool(str(self.files["dict"]), "", str(grammar), str(options.acoustic or ""))

    def _scratch(self) -> Path:
        """This model's directory of built files (removed with the model)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="parlance-sphinx-")
        return Path(self._tmp.name)

    def open_utterance(self, options: DecodeOptions, channel: Channel | None = None) -> SphinxUtterance:
        """An utterance decoded as its audio arrives (the WebSocket): see `incremental`."""
        pool, display = self.decoder_pool(options)
        return SphinxUtterance(self, pool, options, display, channel)

    def decoder_pool(self, options: DecodeOptions) -> tuple[DecoderPool, dict[str, str]]:
        """The decoders for the options' dictionary, LM or grammar and acoustic model, and the custom
        words' display forms."""
        dict_path, lm_path, display = str(self.files["dict"]), str(self.files["lm"]), {}
        if options.custom is not None:
            dict_path, lm_path, display = self._custom_files(options.custom)
        grammar = str(options.grammar) if options.grammar else ""
        return self._pool(dict_path, lm_path, grammar, str(options.acoustic) if options.acoustic else ""), display

    def results(self, decoder: Any, options: DecodeOptions, display: dict[str, str]) -> list[Alternative]:
        """The alternatives of the utterance a decoder has just ended."""
        alternatives = self._decode(decoder, max(1, options.max_alternatives), display)
        if options.word_alternatives and alternatives and alternatives[0].words:
            alternatives[0] = with_word_alternatives(decoder, alternatives[0], display)
        return alternatives

    def _decode(self, decoder: Any, n_best: int, display: dict[str, str]) -> list[Alternative]:
        hyp = decoder.hyp()
        if hyp is None:
            return []
        words = segment_words(decoder, display)
        if not words:
            return []
        confidence = float(np.mean([w.confidence for w in words]))
        best = Alternative(" ".join(w.text for w in words), round(confidence, 4), tuple(words))
        alternatives = [best]
        if n_best > 1:
            seen = {best.transcript}
            for nb in itertools.islice(decoder.nbest() or (), _NBEST_SCAN):
                if nb is None or not nb.hypstr:  # an FSG lattice can yield entries without a path
                    continue
                tokens = [clean_word(t) for t in nb.hypstr.split()]
                text = " ".join(display.get(t, t) for t in tokens if t)
                if not text or text in seen:
                    continue
                seen.add(text)
                # N-best entries carry no posterior; rank-decayed confidences keep the order honest.
                alternatives.append(Alternative(text, round(confidence * 0.8 ** len(alternatives), 4)))
                if len(alternatives) >= n_best:
                    break
        return alternatives
