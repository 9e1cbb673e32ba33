"""The repository stands alone: no file names a path into the folder around the checkout.

A user clones Parlance and nothing else; tests, benchmarks and code that reach beside the clone (an absolute
path to a sibling folder, `../` out of the repository, `Path(__file__).parents[N]` above the root) fail there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `../` chains followed by a name must stay inside the repository, resolved from the file's folder (links in
# documents) and, in code, also from the root (where commands and tests run).
RELATIVE_UP = re.compile(r"(?<![.\w])((?:\.\./)+)([\w.-]+)")
PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
# Deliberate traversal inputs in tests (an archive member or a file name that climbs out) carry this marker.
MARKER = "outside-path: test input"


def repository_files() -> list[Path]:
    """Files git tracks or would track (untracked but not ignored): what a clone carries."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [ROOT / name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    return None if b"\0" in data[:4096] else data.decode("utf-8", errors="replace")


def escapes(path: Path, line: str) -> list[str]:
    """What on this line reaches outside the repository (empty when nothing does)."""
    found = []
    around = str(ROOT.parent).rstrip("/") + "/"
    if around != "/" and around in line:
        found.append(f"absolute path into {around}")
    bases = [path.parent] if path.suffix == ".md" else [path.parent, ROOT]
    for ups, name in RELATIVE_UP.findall(line):
        if any(not (base / ups / name).resolve().is_relative_to(ROOT) for base in bases):
            found.append(f"{ups}{name} leaves the repository")
    depth = len(path.relative_to(ROOT).parts)  # parents[depth - 1] is the root
    for n in PARENTS.findall(line):
        if int(n) >= depth:
            found.append(f"parents[{n}] is above the repository root")
    return found


def test_no_file_names_a_path_outside_the_repository() -> None:
    problems = []
    for path in repository_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if MARKER in line:
                continue
            problems += [f"{path.relative_to(ROOT)}:{number}: {what}" for what in escapes(path, line)]
    assert not problems, "\n".join(problems)


def test_the_check_sees_each_kind_of_escape() -> None:
    nested = ROOT / "tests" / "x.py"  # a file one level down, as most are
    around = str(ROOT.parent)
    assert escapes(nested, f'open("{around}/shared/testdata/corpus.txt")')
    assert escapes(nested, 'SYNTH = "../../' + 'shared/testdata/synth.sh"')  # outside-path: test input
    assert escapes(nested, "DATA = Path(__file__).resolve().parents[2] / 'shared'")  # outside-path: test input
    assert not escapes(nested, "DATA = Path(__file__).resolve().parents[1] / 'tests' / 'data'")
    assert not escapes(nested, 'a URL such as ".../models/base/{id}"')
    assert escapes(
        ROOT / "bench" / "x.py", "usage: x.py [--testdata ../" + "shared/testdata]"
    )  # outside-path: test input
    assert not escapes(ROOT / "bench" / "README.md", "see [docs](../docs/benchmarks.md)")  # outside-path: test input
