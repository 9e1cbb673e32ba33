"""Peak RSS of the recognition pipeline without an engine: `RecognitionService.run` (decoding, pause
splitting, results) on one file, in this process, with the fake engine of tests/fakes.py standing in for
recognition (it answers instantly, so hours of audio take a minute; what is measured is the memory of
decoding and splitting, which the real engines add their own fixed-size models and decoders to).

    python bench/memory_pipeline.py bench/out/memory/3h-under.mp3 audio/mp3   # after bench/memory.py made it

Prints the results count, the time, and the peak RSS growth (VmHWM after resetting it through
/proc/self/clear_refs, minus VmRSS before the request; the request body is read before).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.conftest

from tests.conftest import fake_services  # noqa: E402


def status_mb(field: str) -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("content_type")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        svc = fake_services(Path(data_dir))
        prepared = svc.recognition.prepare("bench", {"inactivity_timeout": -1})
        data = args.path.read_bytes()
        svc.recognition.run(prepared, [(data[:200_000], args.content_type)])  # warm up
        before = status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")
        started = time.perf_counter()
        result = svc.recognition.run(prepared, [(data, args.content_type)])
        seconds = time.perf_counter() - started
        peak = status_mb("VmHWM") - before
        svc.close()
    print(f"{len(result['results'])} results in {seconds:.0f} s; RSS {before:.0f} MB before, peak growth {peak:.0f} MB")


if __name__ == "__main__":
    main()
