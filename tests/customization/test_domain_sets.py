"""The customization benchmark's domain sets (tests/data/domains) are well formed and really held out."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import soundfile

from parlance.customization.sounds_like import validate_sounds_like
from tests.testdata import DATA, synthesize

DOMAINS = sorted(p for p in (DATA / "domains").iterdir() if p.is_dir())


def words_of(domain: Path) -> list[dict]:
    return json.loads((domain / "words.json").read_text())["words"]


def rows_of(domain: Path) -> list[dict[str, str]]:
    with open(domain / "tests.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def frame(sentence: str, terms: list[str]) -> str:
    """The sentence with its custom terms blanked: what a template looks like."""
    for term in sorted(terms, key=len, reverse=True):
        sentence = re.sub(rf"\b{re.escape(term)}\b", "_", sentence)
    return " ".join(sentence.lower().split())


def test_at_least_five_domains() -> None:
    assert len(DOMAINS) >= 5


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda p: p.name)
def test_domain_set(domain: Path) -> None:
    words = words_of(domain)
    displays = [w.get("display_as") or w["word"] for w in words]
    assert len(words) >= 15
    for w in words:
        assert not validate_sounds_like(w.get("sounds_like", [])), w
    tests = rows_of(domain)
    assert len(tests) >= 20
    corpus = [line for line in (domain / "corpus.txt").read_text().splitlines() if line.strip()]
    corpus_frames = {frame(line, displays) for line in corpus}
    tested: set[str] = set()
    for row in tests:
        terms = row["terms"].split(",")
        assert set(terms) <= set(displays), row
        for term in terms:
            assert re.search(rf"\b{re.escape(term)}\b", row["reference"]), row
        tested.update(terms)
        assert row["reference"] not in corpus
        assert frame(row["reference"], displays) not in corpus_frames, row  # a template the corpus never uses
    assert tested == set(displays)  # every custom word is tested
    corpus_text = " ".join(corpus)
    assert all(re.search(rf"\b{re.escape(d)}\b", corpus_text) for d in displays)


def test_ids_are_unique_across_domains() -> None:
    ids = [row["id"] for d in DOMAINS for row in rows_of(d)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("voice", ["awb", "kal16", "kal", "en-gb", "en-f"])
def test_benchmark_voices_speak_16k(voice: str, tmp_path: Path) -> None:
    audio, rate = soundfile.read(str(synthesize(voice, tmp_path / "x.wav", "the court denied the motion")))
    assert rate == 16000 and audio.ndim == 1 and len(audio) > 8000 and abs(audio).max() > 0.05
