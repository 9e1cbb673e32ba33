"""Real speech (pocketsphinx's LibriVox clips) and ffmpeg conversions of it, made at test time."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"  # 7.1 s, 16 kHz mono

Convert = Callable[..., bytes]


def _require(path: Path) -> None:
    if not path.exists() or shutil.which("ffmpeg") is None:
        pytest.skip(f"needs ffmpeg and {path} (Debian pocketsphinx-testdata)")


@pytest.fixture(scope="session")
def clips() -> list[np.ndarray]:
    """All LibriVox clips as float32 arrays (16 kHz mono), the first being CLIP."""
    _require(CLIP)
    paths = [CLIP, *sorted(p for p in LIBRIVOX.glob("*.wav") if p != CLIP)]
    return [sf.read(p, dtype="float32")[0] for p in paths]


@pytest.fixture(scope="session")
def speech(clips: list[np.ndarray]) -> np.ndarray:
    return clips[0]


@pytest.fixture(scope="session")
def convert(tmp_path_factory: pytest.TempPathFactory) -> Convert:
    """`convert("x.flac", "-c:a", "flac")` runs ffmpeg on CLIP and returns the output bytes."""
    _require(CLIP)
    out_dir = tmp_path_factory.mktemp("converted")
    cache: dict[tuple[str, ...], bytes] = {}

    def run(name: str, *args: str, source: Path = CLIP, inputs: tuple[str, ...] = ()) -> bytes:
        key = (name, str(source), *inputs, *args)
        if key not in cache:
            out = out_dir / f"{len(cache)}-{name}"
            sources = inputs or ("-i", str(source))
            cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *sources, *args, str(out)]
            subprocess.run(cmd, check=True)
            cache[key] = out.read_bytes()
        return cache[key]

    return run
