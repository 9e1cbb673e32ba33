"""Grammars drive PocketSphinx: the FSG from `Grammar.to_fsg` decodes real speech (the cards test
data shipped with PocketSphinx) and synthesized digit strings."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from pocketsphinx import Decoder

from parlance.customization.srgs import ABNF, XML, Grammar, compile_grammar
from tests.customization.test_srgs import CARDS_ABNF, CARDS_DIR, CARDS_XML, DIGITS_ABNF
from tests.testdata import SYNTH

pytestmark = pytest.mark.slow
DIGIT_STRINGS = [
    "one two three",
    "four five six seven",
    "eight nine zero oh",
    "nine one one",
    "two oh one five five five zero one nine nine",
]


def decoder(grammar: Grammar, tmp_path: Path, name: str) -> Decoder:
    path = tmp_path / f"{name}.fsg"
    path.write_text(grammar.to_fsg(name))
    return Decoder(fsg=str(path), loglevel="FATAL")


def decode(dec: Decoder, wav: Path) -> str:
    with wave.open(str(wav)) as f:
        assert f.getframerate() == 16000 and f.getnchannels() == 1 and f.getsampwidth() == 2
        raw = f.readframes(f.getnframes())
    dec.start_utt()
    dec.process_raw(raw, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return hyp.hypstr if hyp is not None else ""


def transcriptions() -> dict[str, str]:
    out = {}
    for line in (CARDS_DIR / "cards.transcription").read_text().splitlines():
        match = re.match(r"\s*<s>(.*)</s>\s*\((\w+)\)", line)
        if match:
            out[match.group(2)] = " ".join(match.group(1).split())
    return out


@pytest.mark.parametrize("text,kind", [(CARDS_ABNF, ABNF), (CARDS_XML, XML)])
def test_cards_fsg_decodes_the_pocketsphinx_test_recordings(text: str, kind: str, tmp_path: Path) -> None:
    expected = transcriptions()
    assert len(expected) == 5
    dec = decoder(compile_grammar(text, kind), tmp_path, "cards")
    exact = sum(decode(dec, CARDS_DIR / f"{utt}.wav") == words for utt, words in expected.items())
    assert exact == 5  # all five recordings come out word for word


@pytest.mark.skipif(not (SYNTH.exists() and shutil.which("flite") and shutil.which("sox")), reason="needs flite, sox")
@pytest.mark.parametrize("voice", ["slt", "rms"])
def test_digits_fsg_decodes_synthesized_digit_strings(voice: str, tmp_path: Path) -> None:
    grammar = compile_grammar(DIGITS_ABNF, ABNF)
    dec = decoder(grammar, tmp_path, "digits")
    exact = 0
    for i, text in enumerate(DIGIT_STRINGS):
        wav = tmp_path / f"{i}.wav"
        subprocess.run(["bash", str(SYNTH), voice, str(wav), text], check=True, capture_output=True)
        hyp = decode(dec, wav)
        assert grammar.accepts(hyp.split())  # the decoder never leaves the grammar
        exact += hyp == text
    assert exact >= 4  # slt: 4/5 ("four" heard as "five" once), rms: 5/5


@pytest.mark.skipif(not (SYNTH.exists() and shutil.which("flite") and shutil.which("sox")), reason="needs flite, sox")
@pytest.mark.parametrize("voice", ["slt", "rms"])
def test_garbage_absorbs_words_around_a_command(voice: str, tmp_path: Path) -> None:
    """$GARBAGE is an epsilon in the FSG; PocketSphinx's filler words take up the extra speech."""
    grammar = compile_grammar(
        "#ABNF 1.0;\nroot $cmd;\npublic $cmd = $GARBAGE (call | dial) (mom | dad | home | the office) $GARBAGE;\n",
        ABNF,
    )
    dec = decoder(grammar, tmp_path, "cmd")
    for spoken, command in (("please call mom now", "call mom"), ("um dial home", "dial home")):
        wav = tmp_path / "utt.wav"
        subprocess.run(["bash", str(SYNTH), voice, str(wav), spoken], check=True, capture_output=True)
        assert decode(dec, wav) == command
