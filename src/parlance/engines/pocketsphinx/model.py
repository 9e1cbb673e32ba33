"""PocketSphinx 5: the previous-generation engine (lexicon, OOV words, sounds_like, grammars).

A version directory holds an acoustic model directory, a pronunciation dictionary and a binary
trigram LM; manifest `options` may name them (`hmm`, `dict`, `lm`, relative to the version path)
and pass extra decoder settings (`decoder`: {"maxhmmpf": 3000, ...}). The built-in version is the
model inside the `pocketsphinx` wheel (`builtin_version()`).

Custom language model artifacts (`train` writes them into `out_dir`):

    model.json        weight, base version, display forms {key: display}, custom pronunciations
    custom.dict       base dictionary + custom words (lower-case keys, alternatives as word(2))
    custom.lm.bin     base LM interpolated with the custom n-gram LM at the trained weight
    custom_lm.npz     the custom n-gram LM alone, to re-interpolate at another request weight

Words of the words resource (not corpus-only OOV words) get a bias in the interpolated LM: each of
their probabilities, in every context, is multiplied by 10**USER_WORD_BOOST. Synthetic voices and
accents the acoustic model handles badly lose custom terms to acoustically close base words
("Bitcoin" -> "decline"); measured on the finance test set (60 custom terms, 3 voices) with
espeak-ng alternatives: boost 0 -> 44/60 recall, 1.0 -> 45, 1.5 -> 46, 2.0 -> 45, 3.0 -> 44
(and LibriVox WER 21.1% -> 23.9% at 3.0; unchanged up to 2.0). Engine-level figures; through the
service (bench/customization.py) recall went from 70.0% (42/60) to 75.0% (45/60), LibriVox 21.1%.

Decoders are not thread-safe, so each loaded model keeps small pools of decoders (one pool per
dictionary/LM/grammar combination), created on demand and reused; noise statistics are reset
before every utterance (`start_stream`, see reference/sphinx-adaptation.md §2 item 7).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import json
import logging
import math
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from parlance.checksums import sha256_file
from parlance.customization import sphinx_lm
from parlance.customization.sphinx_dict import (
    Pronouncer,
    read_dictionary,
    word_key,
    write_dictionary,
)
from parlance.customization.text import normalize_corpus
from parlance.engines.base import (
    SAMPLE_RATE,
    Alternative,
    Capabilities,
    CustomModel,
    DecodeOptions,
    ModelVersion,
    ProgressCallback,
    TrainingInput,
    Word,
)
from parlance.errors import BadRequest, EngineFailure, InvalidAudio

log = logging.getLogger("parlance.engines.pocketsphinx")

BASE_MODEL = "en-US_BroadbandModel"
# The en-us model files ship unchanged inside the wheel; a version is named after the release of
# the wheel it comes from (fixed per release, so the name is deterministic).
_RELEASE_DATES = {"5.0.4": "2025-01-10", "5.1.1": "2026-06-06"}
_DEFAULT_RELEASE_DATE = "2026-06-06"
DEFAULT_FILES = {"hmm": "en-us", "dict": "cmudict-en-us.dict", "lm": "en-us.lm.bin"}
# maxhmmpf 3000 decodes about 1.6x faster than the default (30000) at the same WER on LibriVox.
DEFAULT_DECODER = {"maxhmmpf": 3000}
# Grammar (FSG) decoding: a stronger word insertion penalty and likelier silence stop a digit from
# being added at the end of a digit string ("five oh" -> "five oh eight"). On bench/grammars.py's
# sentences sentence accuracy went from 76.7% to 81.1% (flite voices 54 -> 58 of 60), and on 60
# other utterances (another seed) from 73.3% to 80.0%. Without `bestpath` the result is the Viterbi
# path: the lattice PocketSphinx builds from an FSG search often loses the path to the final state, so
# the result was a partial sentence ("lady of diamonds" -> "lady of"; cmusphinx/pocketsphinx#318).
# That took the same sentences from 81.1% to 85.6% and the 60 other ones from 80.0% to 85.0%; word
# confidences are then PocketSphinx's segment scores rather than lattice posteriors.
GRAMMAR_DECODER = {"wip": 0.2, "silprob": 0.1, "bestpath": False}
DITHER = 1.0  # amplitude (in 16-bit steps) of the deterministic dither added before decoding
DEFAULT_WEIGHT = 0.3  # Watson's previous-generation default customization_weight
USER_WORD_BOOST = 1.5  # log10 bias of words-resource words in the custom LM (see module docstring)
_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]"}
_MAX_POOLS = 8
_NBEST_SCAN = 100  # n-best entries examined for distinct alternatives (many differ only in fillers)
_ARTIFACTS = ("model.json", "custom.dict", "custom.lm.bin", "custom_lm.npz")


def _package_version() -> str:
    try:
        return importlib.metadata.version("pocketsphinx")
    except importlib.metadata.PackageNotFoundError:
        return "0"


@lru_cache(maxsize=1)
def builtin_version() -> ModelVersion:
    """`en-US_BroadbandModel` from the files inside the installed `pocketsphinx` wheel."""
    import pocketsphinx

    root = Path(pocketsphinx.get_model_path()) / "en-us"
    date = _RELEASE_DATES.get(_package_version(), _DEFAULT_RELEASE_DATE)
    files = {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted((root / DEFAULT_FILES["hmm"]).iterdir())
        if p.is_file() and p.name != "README"
    }
    for key in ("dict", "lm"):
        files[DEFAULT_FILES[key]] = sha256_file(root / DEFAULT_FILES[key])
    return ModelVersion(
        base_model=BASE_MODEL,
        version=f"{BASE_MODEL}.v{date}",
        engine="pocketsphinx",
        language="en-US",
        rate=SAMPLE_RATE,
        description=f"US English broadband model (16 kHz), PocketSphinx {_package_version()}",
        path=root,
        files=files,
        created=datetime.fromisoformat(date).replace(tzinfo=UTC),
        options=dict(DEFAULT_FILES),
    )


def model_files(version: ModelVersion) -> dict[str, Path]:
    """Paths of the acoustic model directory, dictionary and LM of a version."""
    return {k: version.path / str(version.options.get(k, v)) for k, v in DEFAULT_FILES.items()}


@lru_cache(maxsize=8)
def _vocabulary(dict_path: str, lm_path: str) -> frozenset[str]:
    words = set(read_dictionary(Path(dict_path)))
    return frozenset(words & set(sphinx_lm.read_trie_words(Path(lm_path))))


def vocabulary(version: ModelVersion) -> frozenset[str]:
    """Words the version can recognize: in its dictionary and in its language model."""
    files = model_files(version)
    return _vocabulary(str(files["dict"]), str(files["lm"]))


def oov_words(version: ModelVersion, counts: dict[str, int]) -> dict[str, int]:
    """The out-of-vocabulary words of a corpus word count, most frequent first."""
    vocab = vocabulary(version)
    return {w: c for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if word_key(w) not in vocab}


# ---- decoding -----------------------------------------------------------------------------------


class _DecoderPool:
    """Idle decoders for one configuration; `acquire` reuses one or creates a new one."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def acquire(self) -> Iterator[Any]:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            decoder = self._factory()
        try:
            yield decoder
        except BaseException:
            decoder = None  # a decoder that raised mid-utterance is not reused
            raise
        finally:
            if decoder is not None:
                with self._lock:
                    self._idle.append(decoder)


def to_pcm16(audio: np.ndarray, dither: float = DITHER) -> bytes:
    """float [-1, 1] -> 16-bit PCM bytes, with deterministic dither.

    Synthetic and gated audio holds runs of exact digital zeros, whose log filterbank energies
    throw the front end off (espeak-ng speech: 82% -> 67% WER with dither). PocketSphinx's own
    `dither` option draws from a generator that runs on across utterances, so the same audio would
    decode differently on a reused decoder; a fixed-seed dither per utterance keeps results
    reproducible.
    """
    samples = np.clip(np.nan_to_num(audio.astype(np.float64)), -1.0, 1.0) * 32767.0
    if dither:  # only exact zeros: real recordings keep their samples, so every format decodes alike
        zeros = samples == 0.0
        samples[zeros] = np.random.default_rng(0).uniform(-dither, dither, int(zeros.sum()))
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


@lru_cache(maxsize=16)
def _custom_meta(path: str, mtime: float) -> dict[str, Any]:
    return json.loads((Path(path) / "model.json").read_text())


def _clean(word: str) -> str | None:
    """Drop fillers (<s>, <sil>, [NOISE], ++GARBAGE++); strip alternative markers (word(2))."""
    if word in _FILLERS or word.startswith("++") or (word.startswith("[") and word.endswith("]")):
        return None
    if word.endswith(")") and "(" in word:
        word = word[: word.rindex("(")]
    return word or None


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
        self._pools: OrderedDict[tuple[str, str, str], _DecoderPool] = OrderedDict()
        self._lock = threading.Lock()
        self._reweighted: dict[tuple[str, float], Path] = {}
        self._reweight_lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- decoder pools ---------------------------------------------------------------------
    def _make_decoder(self, dict_path: str, lm_path: str, grammar: str) -> Any:
        from pocketsphinx import Decoder

        config: dict[str, Any] = {"hmm": str(self.files["hmm"]), "dict": dict_path, "loglevel": "FATAL"}
        config.update(self.grammar_decoder_options if grammar else self.decoder_options)
        if grammar:
            config["lm"] = None
            config["fsg" if grammar.endswith(".fsg") else "jsgf"] = grammar
        else:
            config["lm"] = lm_path
        try:
            return Decoder(**config)
        except (RuntimeError, ValueError) as exc:
            if grammar:
                raise BadRequest(f"Cannot compile grammar: {exc}") from None
            raise EngineFailure(f"Cannot start PocketSphinx decoder: {exc}") from None

    def _pool(self, dict_path: str, lm_path: str, grammar: str) -> _DecoderPool:
        key = (dict_path, lm_path, grammar)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _DecoderPool(lambda: self._make_decoder(*key))
                while len(self._pools) > _MAX_POOLS:
                    self._pools.popitem(last=False)
            self._pools.move_to_end(key)
            return pool

    def _custom_files(self, custom: CustomModel) -> tuple[str, str, dict[str, str]]:
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
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="parlance-sphinx-")
            custom = sphinx_lm.TrigramLM.load(path / "custom_lm.npz")
            base = sphinx_lm.load_base_lm(self.files["lm"])
            base = base.extend_vocabulary(custom.words[base.size :])
            out = Path(self._tmp.name) / f"{hashlib.sha1(key[0].encode()).hexdigest()[:16]}-{key[1]}.lm.bin"
            mixed = sphinx_lm.interpolate(base, custom, weight)
            ids = custom.word_ids()
            boosted = np.array([ids[w] for w in meta.get("boosted", ()) if w in ids], dtype=np.int64)
            mixed = sphinx_lm.boost_words(mixed, boosted, float(meta.get("boost", 0.0)))
            sphinx_lm.write_trie_bin(mixed, out)
            self._reweighted[key] = out
            return out

    # -- recognition -----------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Alternative]:
        audio = np.asarray(audio)
        if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
            raise InvalidAudio("Audio must be mono floating-point PCM")
        if audio.size == 0:
            return []
        pcm = to_pcm16(audio)
        dict_path, lm_path, display = str(self.files["dict"]), str(self.files["lm"]), {}
        if options.custom is not None:
            dict_path, lm_path, display = self._custom_files(options.custom)
        grammar = str(options.grammar) if options.grammar else ""
        pool = self._pool(dict_path, lm_path, grammar)
        with pool.acquire() as decoder:
            alternatives = self._decode(decoder, pcm, max(1, options.max_alternatives), display)
            if options.word_alternatives and alternatives and alternatives[0].words:
                alternatives[0] = _with_word_alternatives(decoder, alternatives[0], display)
            return alternatives

    def _decode(self, decoder: Any, pcm: bytes, n_best: int, display: dict[str, str]) -> list[Alternative]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            decoder.start_stream()  # resets noise statistics: every utterance starts fresh
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None:
            return []
        frate = float(decoder.config["frate"] or 100)
        words = []
        for seg in decoder.seg():
            text = _clean(seg.word)
            if text is None:
                continue
            conf = min(1.0, max(0.0, float(seg.prob)))
            words.append(Word(display.get(text, text), seg.start_frame / frate, (seg.end_frame + 1) / frate, conf))
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
                tokens = [_clean(t) for t in nb.hypstr.split()]
                text = " ".join(display.get(t, t) for t in tokens if t)
                if not text or text in seen:
                    continue
                seen.add(text)
                # N-best entries carry no posterior; rank-decayed confidences keep the order honest.
                alternatives.append(Alternative(text, round(confidence * 0.8 ** len(alternatives), 4)))
                if len(alternatives) >= n_best:
                    break
        return alternatives


def lattice_words(slf: str) -> list[tuple[str, float, float, float]]:
    """(word, start s, end s, posterior) of every word hypothesis in a lattice PocketSphinx wrote in
    HTK format. The Python bindings expose no lattice nodes, so the lattice goes through its file
    form. A node carries a word and the time it starts; each link out of it ends the word where the
    next one starts and carries the posterior of that hypothesis."""
    times: dict[int, float] = {}
    labels: dict[int, str] = {}
    out = []
    for line in slf.splitlines():
        if line[:2] not in ("I=", "J="):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if line.startswith("I="):
            times[int(fields["I"])], labels[int(fields["I"])] = float(fields["t"]), fields.get("W", "")
            continue
        node, posterior = int(fields["S"]), float(fields.get("p", 0.0))
        word = _clean(labels.get(node, ""))
        if word and not word.startswith("!") and posterior > 0:
            out.append((word, times[node], times[int(fields["E"])], min(1.0, posterior)))
    return out


MIN_ALTERNATIVE = 0.001  # posterior below which a lattice word is not offered as an alternative


def _with_word_alternatives(decoder: Any, best: Alternative, display: dict[str, str]) -> Alternative:
    """The best alternative with, for each word, the lattice words that cover most of its time."""
    try:
        with tempfile.TemporaryDirectory(prefix="parlance-lattice-") as tmp:
            decoder.get_lattice().write_htk(f"{tmp}/lattice.slf")
            candidates = lattice_words(Path(f"{tmp}/lattice.slf").read_text())
    except (RuntimeError, OSError, ValueError, KeyError, AttributeError):  # no lattice for this utterance
        return best
    words = []
    for w in best.words:
        scores: dict[str, float] = {}
        for text, start, end, posterior in candidates:
            overlap = min(end, w.end) - max(start, w.start)
            if overlap >= 0.5 * (w.end - w.start) and overlap >= 0.5 * (end - start):
                shown = display.get(text, text)
                scores[shown] = min(1.0, scores.get(shown, 0.0) + posterior)
        ranked = sorted(((t, round(p, 4)) for t, p in scores.items() if p >= MIN_ALTERNATIVE), key=lambda a: -a[1])
        words.append(replace(w, alternatives=tuple(ranked)))
    return replace(best, words=tuple(words))


# ---- training -----------------------------------------------------------------------------------


def _progress_scale(progress: ProgressCallback, lo: int, hi: int) -> Callable[[float], None]:
    return lambda frac: progress(int(lo + (hi - lo) * max(0.0, min(1.0, frac))))


def train_custom_model(
    version: ModelVersion, data: TrainingInput, out_dir: Path, progress: ProgressCallback = lambda _p: None
) -> dict[str, Any]:
    """Build a custom language model's artifacts (see module docstring); returns build stats."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = model_files(version)
    progress(1)

    # 1. Corpora -> sentences of tokens.
    total_chars = sum(len(t) for t in data.corpora.values()) or 1
    sentences: list[list[str]] = []
    done = 0
    for text in data.corpora.values():
        sentences += normalize_corpus(text)
        done += len(text)
        progress(int(2 + 23 * done / total_chars))

    # 2. Base model and the custom vocabulary.
    base_dict = read_dictionary(files["dict"])
    base = sphinx_lm.load_base_lm(files["lm"])
    progress(30)
    vocab = vocabulary(version)
    pronouncer = Pronouncer(base_dict)
    user: dict[str, dict[str, Any]] = {}
    for w in data.words:
        if not w.get("word") or w.get("error"):
            continue
        user[word_key(w["word"])] = w
    allow_corpus_words = data.word_type_to_add != "user"
    corpus_oov = {t for s in sentences for t in s if t not in vocab and t not in user}
    if not allow_corpus_words:
        corpus_oov = set()
    pronouncer.prepare(
        [t for t in (*user, *corpus_oov) if t not in base_dict]
        + [t for w in user.values() for e in w.get("sounds_like") or [] for t in e.lower().split()],
        variants=[k for k, w in user.items() if not w.get("sounds_like")],
    )
    prons: dict[str, list[str]] = {}
    display: dict[str, str] = {}
    for key, w in user.items():
        prons[key] = pronouncer.word_pronunciations(w["word"], w.get("sounds_like") or [])
        shown = w.get("display_as") or w["word"]
        if shown != key:
            display[key] = shown
    for key in corpus_oov:
        prons[key] = pronouncer.word_pronunciations(key)
    prons = {k: p for k, p in prons.items() if p}
    progress(38)

    # 3. Custom n-gram model over base words + new words.
    ids = base.word_ids()
    new_words = sorted(k for k in prons if k not in ids)
    union = base.words + new_words
    for i, w in enumerate(new_words, start=base.size):
        ids[w] = i
    allowed = vocab | prons.keys()
    id_sentences = [
        np.fromiter((ids[t] if t in allowed and t in ids else -1 for t in s), dtype=np.int64, count=len(s))
        for s in sentences
    ]
    extra = np.zeros(len(union))
    corpus_counts: dict[str, int] = {}
    for s in sentences:
        for t in s:
            corpus_counts[t] = corpus_counts.get(t, 0) + 1
    for key in prons:
        if key in ids and not corpus_counts.get(key):
            extra[ids[key]] = 1.0  # a user word never seen in a corpus still gets a unigram
    progress(45)
    custom = sphinx_lm.train_kn(id_sentences, union, extra)
    progress(55)

    # 4. Interpolate with the base model and write everything.
    weight = float(data.weight if data.weight is not None else DEFAULT_WEIGHT)
    mixed = sphinx_lm.interpolate(base.extend_vocabulary(new_words), custom, weight, _progress_scale(progress, 55, 75))
    boosted = sorted(k for k in user if k in prons)
    mixed = sphinx_lm.boost_words(mixed, np.array([ids[k] for k in boosted], dtype=np.int64), USER_WORD_BOOST)
    sphinx_lm.write_trie_bin(mixed, out_dir / "custom.lm.bin")
    progress(92)
    write_dictionary(files["dict"], out_dir / "custom.dict", prons)
    custom.save(out_dir / "custom_lm.npz")
    meta = {
        "engine": "pocketsphinx",
        "base_version": version.version,
        "weight": weight,
        "word_type_to_add": data.word_type_to_add,
        "display": display,
        "boost": USER_WORD_BOOST,
        "boosted": boosted,
        "pronunciations": prons,
        "new_words": len(new_words),
        "sentences": len(sentences),
        "tokens": int(sum(len(s) for s in sentences)),
        "ngrams": list(mixed.counts),
        "seconds": round(time.perf_counter() - started, 3),
    }
    (out_dir / "model.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    log.info(
        "custom LM for %s: %d tokens, %d new words, %s n-grams in %.2f s",
        version.version, meta["tokens"], len(new_words), meta["ngrams"], meta["seconds"],
    )  # fmt: skip
    progress(100)
    return meta


class PocketSphinxEngine:
    name = "pocketsphinx"
    capabilities = Capabilities(generation="previous", native_grammars=True, word_lattices=True)

    def load(self, version: ModelVersion) -> PocketSphinxModel:
        return PocketSphinxModel(version)

    def in_vocabulary(self, version: ModelVersion, word: str) -> bool:
        return word_key(word) in vocabulary(version)

    def train(self, version: ModelVersion, data: TrainingInput, out_dir: Path, progress: ProgressCallback) -> None:
        train_custom_model(version, data, out_dir, progress)
