"""Grammars on both engines with real speech (cards recordings) and synthesized speech."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from ibm_cloud_sdk_core import ApiException
from ibm_watson import SpeechToTextV1

from parlance.customization.srgs import compile_grammar
from tests.conftest import LiveServer
from tests.e2e.test_upgrade_e2e import sdk, wait
from tests.testdata import SYNTH

pytestmark = pytest.mark.slow
MODELS = ["en-US_BroadbandModel", "en-US_Multimedia"]
CARDS = Path("/usr/share/pocketsphinx/test/data/cards")
DIGITS = """#ABNF 1.0;
language en-US;
mode voice;
root $digits;
public $digits = $digit <1-10>;
$digit = zero | one | two | three | four | five | six | seven | eight | nine | oh;
"""
DIGITS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<grammar version="1.0" xmlns="http://www.w3.org/2001/06/grammar" xml:lang="en-US" mode="voice" root="digits">
  <rule id="digits" scope="public"><item repeat="1-10"><ruleref uri="#digit"/></item></rule>
  <rule id="digit"><one-of>
    <item>zero</item><item>one</item><item>two</item><item>three</item><item>four</item><item>five</item>
    <item>six</item><item>seven</item><item>eight</item><item>nine</item><item>oh</item>
  </one-of></rule>
</grammar>
"""
COMMANDS = """#ABNF 1.0;
root $command;
public $command = yes | no | cancel;
"""
CARDS_ABNF = """#ABNF 1.0;
root $cards;
public $cards = $card <1-3> | $rank $card | $rank $rank;
$card = $rank [of] $suit;
$suit = clubs | hearts | diamonds | spades;
$rank = ace | two | three | four | five | six | seven | eight | nine | ten | jack | queen | king | lady;
"""
GRAMMARS = {
    "digits": (DIGITS, "application/srgs"),
    "digitsxml": (DIGITS_XML, "application/srgs+xml"),
    "commands": (COMMANDS, "application/srgs"),
    "cards": (CARDS_ABNF, "application/srgs"),
}


def synth(tmp: Path, voice: str, text: str) -> bytes:
    out = tmp / f"{voice}-{re.sub(r'[^a-z]+', '_', text)}.wav"
    if not out.exists():
        subprocess.run(["bash", str(SYNTH), voice, str(out), text], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module", params=MODELS)
def grammar_model(request: pytest.FixtureRequest, real_server: LiveServer) -> tuple[SpeechToTextV1, str, str]:
    base = request.param
    stt = sdk(real_server.url, real_server.apikey)
    cid = stt.create_language_model(f"grammars-{base}", base).get_result()["customization_id"]
    for name, (text, ctype) in GRAMMARS.items():
        stt.add_grammar(cid, name, text, ctype)
        wait(stt, cid, {"ready"})
    assert {g["name"]: g["status"] for g in stt.list_grammars(cid).get_result()["grammars"]} == {
        n: "analyzed" for n in GRAMMARS
    }
    stt.train_language_model(cid)
    assert wait(stt, cid, {"available", "failed"})["status"] == "available"
    return stt, base, cid


def recognize(stt: SpeechToTextV1, audio: bytes, base: str, cid: str, grammar: str) -> str:
    result = stt.recognize(
        audio, content_type="audio/wav", model=base, language_customization_id=cid, grammar_name=grammar
    ).get_result()
    return " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])


def test_cards_real_speech(grammar_model) -> None:  # type: ignore[no-untyped-def]
    stt, base, cid = grammar_model
    refs = {}
    for line in (CARDS / "cards.transcription").read_text().splitlines():
        m = re.fullmatch(r"<s>\s*(.*?)\s*</s>\s*\((\d+)\)", line.strip())
        if m:
            refs[m.group(2)] = m.group(1)
    got = {k: recognize(stt, (CARDS / f"{k}.wav").read_bytes(), base, cid, "cards") for k in refs}
    print(f"\n{base} cards: {got}")
    grammar = compile_grammar(CARDS_ABNF, "application/srgs")
    assert all(grammar.accepts(t.split()) for t in got.values() if t)
    assert sum(got[k] == refs[k] for k in refs) >= 4


@pytest.mark.parametrize("voice", ["slt", "rms", "en"])
def test_digits_and_commands_synthesized(grammar_model, voice: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    stt, base, cid = grammar_model
    if voice == "en":
        # espeak-ng's robotic speech: PocketSphinx's acoustic model does poorly on it (82% WER without a
        # grammar), and Whisper drops or swaps an "oh" now and then ("nine oh five" -> "oh five").
        # bench/grammars.py reports that voice's grammar accuracy instead of a test pretending it holds.
        pytest.skip("espeak-ng voice: measured in bench/grammars.py, below the flite voices")
    tmp = tmp_path_factory.getbasetemp()
    for text in ("one two three four", "nine oh five", "seven"):
        audio = synth(tmp, voice, text)
        assert recognize(stt, audio, base, cid, "digits") == text
        assert recognize(stt, audio, base, cid, "digitsxml") == text  # ABNF and XML forms agree
    for text in ("yes", "no", "cancel"):
        assert recognize(stt, synth(tmp, voice, text), base, cid, "commands") == text


def test_out_of_grammar_never_yields_a_phrase_outside(grammar_model, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    stt, base, cid = grammar_model
    tmp = tmp_path_factory.getbasetemp()
    digits = compile_grammar(DIGITS, "application/srgs")
    for text in ("the weather is lovely in the spring", "please send the quarterly report"):
        result = stt.recognize(
            synth(tmp, "slt", text), content_type="audio/wav", model=base, language_customization_id=cid,
            grammar_name="digits",
        ).get_result()  # fmt: skip
        got = " ".join(r["alternatives"][0]["transcript"].strip() for r in result["results"])
        assert got == "" or digits.accepts(got.split()), got
        if base == "en-US_Multimedia":  # selection among candidates can tell that nothing fits
            assert got == "" and "matched the audio well enough" in " ".join(result["warnings"]), result


def test_alternatives_are_all_in_the_grammar(grammar_model, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    stt, base, cid = grammar_model
    cards = compile_grammar(CARDS_ABNF, "application/srgs")
    # espeak-ng "six six": PocketSphinx's n-best list for it starts with an entry without a path (it gave a 500)
    for audio in (synth(tmp_path_factory.getbasetemp(), "en", "six six"), (CARDS / "001.wav").read_bytes()):
        result = stt.recognize(
            audio, content_type="audio/wav", model=base, language_customization_id=cid, grammar_name="cards",
            max_alternatives=3,
        ).get_result()  # fmt: skip
        alternatives = [a["transcript"].strip() for r in result["results"] for a in r["alternatives"]]
        assert all(cards.accepts(a.split()) for a in alternatives), alternatives
        assert len(alternatives) == len(set(alternatives)) and len(result["results"]) <= 1


def test_grammar_errors(grammar_model, real_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    stt, base, cid = grammar_model
    url = f"{real_server.url}/v1/customizations/{cid}/grammars/bad"
    auth = ("apikey", real_server.apikey)
    r = httpx.post(
        url,
        content=DIGITS.replace("root $digits;", "root $digits").encode(),
        auth=auth,
        headers={"Content-Type": "application/srgs"},
    )
    assert r.status_code == 400 and "line" in r.json()["error"], r.text
    r = httpx.post(
        url,
        content=b"<grammar root='x'><rule id='x'><item>",
        auth=auth,
        headers={"Content-Type": "application/srgs+xml"},
    )
    assert r.status_code == 400 and "line" in r.json()["error"], r.text
    r = httpx.post(url, content=DIGITS.encode(), auth=auth, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    with pytest.raises(ApiException) as err:
        stt.recognize(
            b"RIFF" + bytes(200),
            content_type="audio/wav",
            model=base,
            language_customization_id=cid,
            grammar_name="nope",
        )
    assert err.value.status_code == 400
    assert "bad" not in {g["name"] for g in stt.list_grammars(cid).get_result()["grammars"]}
