"""Where the tests' own data lives (`tests/data/`), and speech synthesized from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SYNTH = DATA / "synth.sh"
FINANCE = DATA / "finance"
LANGUAGES = DATA / "languages"


def synthesize(voice: str, out: Path, text: str) -> Path:
    """Speak `text` with `voice` (slt, rms, en, ko, pt-br, jf_alpha, jm_kumo) into `out` as 16 kHz mono WAV."""
    subprocess.run(["bash", str(SYNTH), voice, str(out), text], check=True, capture_output=True)
    return out
