"""The SphinxTrain side of acoustic adaptation: base-model preparation, features, `bw`, MLLR and MAP.

The Debian tools (`sphinxtrain`: bw, mllr_solve, map_adapt, mk_s2sendump; `sphinxbase-utils`: sphinx_fe;
`pocketsphinx`: pocketsphinx_mdef_convert) run as separate processes. Two one-time conversions make the
PocketSphinx model usable by them (reference: sphinx-adaptation.md §2): a text `mdef`, and float mixture
weights rebuilt from the 8-bit `sendump` (SphinxTrain's own converter is Python 2, hence `sendump_to_mixw`).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parlance.errors import EngineFailure

SPHINXTRAIN = Path("/usr/lib/sphinxtrain")
SPHINX_FE = "sphinx_fe"
MDEF_CONVERT = "pocketsphinx_mdef_convert"
# The en-us model is a PTM model: 42 codebooks (one per CI phone), 3 streams of 13 (reference §2 items 4, 5).
BW_MODEL_ARGS = ["-ts2cbfn", ".ptm.", "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38"]
BW_FEATURE_ARGS = ["-cmn", "batch", "-agc", "none", "-varnorm", "no"]
LOGBASE = 1.0001
SENSCR_SHIFT = 10
TOOL_TIMEOUT = 3600


def run_tool(args: list[str], log: Path | None = None, cwd: Path | None = None) -> str:
    """Run a tool; its combined output is returned (and kept in `log`). A missing tool is a 500."""
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, errors="replace", timeout=TOOL_TIMEOUT, cwd=cwd, check=False
        )
    except FileNotFoundError:
        raise EngineFailure(
            f"{args[0]} is not installed: acoustic adaptation needs the Debian packages "
            "sphinxtrain, sphinxbase-utils and pocketsphinx"
        ) from None
    output = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(output)
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise EngineFailure(f"{Path(args[0]).name} failed ({proc.returncode}): {tail}")
    return output


def tool(name: str) -> str:
    return str(SPHINXTRAIN / name)


# -- one-time base-model preparation -----------------------------------------------------------------
def read_sendump(path: Path) -> np.ndarray:
    """PocketSphinx's 8-bit mixture weights as float probabilities [senone][stream][density]
    (format: pocketsphinx `ptm_mgau.c:read_sendump`; reference §3)."""
    data = path.read_bytes()
    offset = 0
    while True:
        (n,) = struct.unpack_from("<i", data, offset)
        offset += 4
        if n == 0:
            break
        offset += n
    rows, cols = struct.unpack_from("<ii", data, offset)
    offset += 8
    n_feat = (len(data) - offset) // (rows * cols)
    q = np.frombuffer(data, np.uint8, n_feat * rows * cols, offset).reshape(n_feat, rows, cols)
    # q = -log_1.0001(w) >> 10: take the middle of each quantization step, then renormalize.
    logw = -(q.astype(np.float64) + 0.5) * (1 << SENSCR_SHIFT) * np.log(LOGBASE)
    weights = np.exp(logw - logw.max(axis=1, keepdims=True)).transpose(2, 0, 1)  # [sen][feat][dens]
    return weights / weights.sum(axis=2, keepdims=True)


def write_s3(path: Path, dims: tuple[int, ...], array: np.ndarray) -> None:
    """A Sphinx-3 binary parameter file: header aligned to 4 bytes, byte-order magic, `dims`, the value
    count, float32 values."""
    with open(path, "wb") as f:
        f.write(b"s3\nversion 1.0\n")
        pad = -(f.tell() + len(b"endhdr\n")) % 4
        f.write(b" " * pad + b"endhdr\n")
        f.write(struct.pack(f"<{len(dims) + 2}i", 0x11223344, *dims, array.size))
        f.write(array.astype("<f4").tobytes())


def write_s3_array(path: Path, array: np.ndarray) -> None:
    """Mixture weights and the like: the array's shape is the file's dimensions."""
    write_s3(path, array.shape, array)


def prepare_base(hmm: Path, cache: Path) -> Path:
    """`cache` holding `mdef.txt` and `mixture_weights` for the base acoustic model `hmm`; built once,
    in a temporary folder renamed into place (concurrent trainings may race: the first rename wins)."""
    if (cache / "mixture_weights").is_file():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".prepare-", dir=cache.parent))
    try:
        run_tool([MDEF_CONVERT, "-text", str(hmm / "mdef"), str(build / "mdef.txt")])
        write_s3_array(build / "mixture_weights", read_sendump(hmm / "sendump").astype(np.float32))
        try:
            os.replace(build, cache)
        except OSError:  # another training prepared it meanwhile
            if not (cache / "mixture_weights").is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return cache


# -- features and accumulation --------------------------------------------------------------------
def features(hmm: Path, wav_dir: Path, ids: list[str], out_dir: Path) -> None:
    """MFCCs exactly as the decoder computes them (sphinx_fe with the model's feat.params: bit-identical
    to pocketsphinx 5.1.1; silence is kept so that frames match the transcripts)."""
    ctl = out_dir.parent / "fe.fileids"
    ctl.write_text("".join(f"{i}\n" for i in ids))
    out_dir.mkdir(exist_ok=True)
    run_tool(
        [
            SPHINX_FE,
            "-argfile",
            str(hmm / "feat.params"),
            "-samprate",
            "16000",
            "-remove_silence",
            "no",
            "-c",
            str(ctl),
            "-di",
            str(wav_dir),
            "-do",
            str(out_dir),
            "-ei",
            "wav",
            "-eo",
            "mfc",
            "-mswav",
            "yes",
        ]
    )


@dataclass(frozen=True)
class Accumulated:
    accum_dir: Path
    used: list[str]  # utterance ids bw aligned
    dropped: dict[str, str]  # utterance id -> why bw skipped it


_UTT = re.compile(r"^utt>\s+\d+\s+(\S+)(.*)$")
_REASON = re.compile(r"^(?:WARN|ERROR):.*?:\s*(.*(?:Unable to lookup word|final state|Skipped utterance|ignored).*)$")


def parse_bw_log(log: str, ids: list[str]) -> dict[str, str]:
    """Utterances bw dropped: its exit status is 0 whatever happens (reference §2 item 8). bw prints one
    `utt> N ID frames ...` line per utterance, ending with its likelihoods when it was aligned; a dropped
    one stops short. (stdout and stderr interleave unpredictably, so warnings are not matched by position.)"""
    dropped: dict[str, str] = {}
    reasons = [m.group(1).strip() for m in map(_REASON.match, log.splitlines()) if m]
    seen = set()
    for line in log.splitlines():
        m = _UTT.match(line)
        if not m:
            continue
        seen.add(m.group(1))
        if len(m.group(2).split()) < 8:  # no likelihoods: not aligned
            dropped[m.group(1)] = "; ".join(dict.fromkeys(reasons))[:300] or "bw could not align it"
    for uid in ids:
        if uid not in seen:
            dropped.setdefault(uid, "bw did not process it")
    return dropped


def accumulate(
    hmm: Path, prepared: Path, mixw: Path, dictionary: Path, ids: list[str], transcripts: list[str], work: Path
) -> Accumulated:
    """One `bw` pass over the utterances (features in `work/feat`) with model `hmm`."""
    ctl, lsn = work / "bw.fileids", work / "bw.transcription"
    ctl.write_text("".join(f"{i}\n" for i in ids))
    lsn.write_text("".join(f"<s> {t} </s> ({i})\n" for i, t in zip(ids, transcripts, strict=True)))
    accum = Path(tempfile.mkdtemp(prefix="acc-", dir=work))
    args = [tool("bw"), "-hmmdir", str(hmm), "-moddeffn", str(prepared / "mdef.txt"), "-mixwfn", str(mixw)]
    args += BW_MODEL_ARGS + BW_FEATURE_ARGS
    args += ["-dictfn", str(dictionary), "-fdictfn", str(hmm / "noisedict"), "-ctlfn", str(ctl), "-lsnfn", str(lsn)]
    args += ["-cepdir", str(work / "feat"), "-cepext", "mfc", "-accumdir", str(accum), "-timing", "no"]
    log = run_tool(args, accum.with_suffix(".log"))
    dropped = parse_bw_log(log, ids)
    return Accumulated(accum, [i for i in ids if i not in dropped], dropped)


def solve_mllr(hmm: Path, accum: Path, out: Path) -> None:
    run_tool(
        [
            tool("mllr_solve"),
            "-meanfn",
            str(hmm / "means"),
            "-varfn",
            str(hmm / "variances"),
            "-outmllrfn",
            str(out),
            "-accumdir",
            str(accum),
        ]
    )


def read_s3_header(path: Path) -> tuple[bytes, int]:
    """A Sphinx-3 binary parameter file's bytes and the offset just past its header and byte-order magic.
    (These files are written here or by map_adapt on this machine: little-endian, no checksum read.)"""
    data = path.read_bytes()
    offset = data.find(b"endhdr\n") + len(b"endhdr\n")
    if offset < len(b"endhdr\n") or data[offset : offset + 4] != struct.pack("<i", 0x11223344):
        raise EngineFailure(f"{path.name}: not a little-endian Sphinx-3 parameter file")
    return data, offset + 4


def read_gaussians(path: Path) -> np.ndarray:
    """A Sphinx-3 means or variances file as [codebook][stream][density][dimension] (format: pocketsphinx
    `ms_gauden.c:gauden_param_read`; every stream of this model has the same length)."""
    data, offset = read_s3_header(path)
    n_mgau, n_feat, n_density = struct.unpack_from("<3i", data, offset)
    veclen = struct.unpack_from(f"<{n_feat}i", data, offset + 12)
    (count,) = struct.unpack_from("<i", data, offset + 12 + 4 * n_feat)
    values = np.frombuffer(data, "<f4", count, offset + 16 + 4 * n_feat)
    return values.reshape(n_mgau, n_feat, n_density, veclen[0])


def write_gaussians(path: Path, array: np.ndarray) -> None:
    n_mgau, n_feat, n_density, veclen = array.shape
    write_s3(path, (n_mgau, n_feat, n_density, *[veclen] * n_feat), array)


def copy_model(hmm: Path, out: Path, names: tuple[str, ...]) -> None:
    out.mkdir()
    for name in names:
        shutil.copy2(hmm / name, out / name)


def map_adapt(hmm: Path, prepared: Path, accum: Path, out: Path, mixw: Path, tau: float) -> None:
    """A MAP-adapted copy of `hmm` in `out` (PocketSphinx reads float mixture weights when there is no
    sendump); its float mixture weights go to `mixw`. A fixed prior weight `tau` (instead of map_adapt's
    default Bayesian means, which follow the data alone) keeps every Gaussian near the base model unless
    the data say otherwise many times."""
    copy_model(hmm, out, ("feat.params", "mdef", "noisedict"))
    args = [tool("map_adapt"), "-moddeffn", str(prepared / "mdef.txt"), "-ts2cbfn", ".ptm."]
    args += ["-meanfn", str(hmm / "means"), "-varfn", str(hmm / "variances")]
    args += ["-mixwfn", str(prepared / "mixture_weights"), "-tmatfn", str(hmm / "transition_matrices")]
    args += ["-accumdir", str(accum), "-mapmeanfn", str(out / "means"), "-mapvarfn", str(out / "variances")]
    args += ["-mapmixwfn", str(mixw), "-maptmatfn", str(out / "transition_matrices")]
    args += ["-bayesmean", "no", "-fixedtau", "yes", "-tau", f"{tau:g}"]
    run_tool(args)


def pair_with_base(hmm: Path, prepared: Path, out: Path, means: np.ndarray, mixw: np.ndarray, weight: float) -> None:
    """Write into `out` codebooks that hold the base Gaussians and the adapted ones (`means`) side by side
    (128 + 128 per phone), each senone weighting the base mixture by 1 - `weight` and the adapted one
    (`mixw`) by `weight`. A frame of the adapted speaker lies near the adapted Gaussians, so their term
    decides its score; a frame of anybody else keeps the base model's (a plain MAP model or an MLLR
    transform moves the Gaussians every speaker shares). The base variances serve both halves: MAP's,
    estimated from one voice, are narrower than its next utterances need."""
    write_gaussians(out / "means", np.concatenate([read_gaussians(hmm / "means"), means], axis=2))
    variances = read_gaussians(hmm / "variances")
    write_gaussians(out / "variances", np.concatenate([variances, variances], axis=2))
    paired = out.parent / f"{out.name}.mixture_weights"
    base = read_mixture_weights(prepared / "mixture_weights")
    write_s3_array(paired, np.concatenate([(1 - weight) * base, weight * mixw], axis=2).astype(np.float32))
    try:
        sendump(prepared, paired, out / "sendump")
    finally:
        paired.unlink(missing_ok=True)


def mllr_means(hmm: Path, transform: Path) -> np.ndarray:
    """The base means moved by a one-class MLLR transform as PocketSphinx applies one (`ms_gauden.c`: per
    stream, mean' = A mean + b; file format `ps_mllr.c`: classes, streams, then per stream its length, A,
    b and a variance scale, which is not used here, as the variances stay the base ones)."""
    values = transform.read_text().split()
    if int(values[0]) != 1:
        raise EngineFailure(f"{transform.name}: only one-class MLLR transforms are supported")
    means = read_gaussians(hmm / "means")
    moved = means.copy()
    pos = 2
    for stream in range(int(values[1])):
        size = int(values[pos])
        a = np.array(values[pos + 1 : pos + 1 + size * size], np.float64).reshape(size, size)
        b = np.array(values[pos + 1 + size * size : pos + 1 + size * size + size], np.float64)
        moved[:, stream] = means[:, stream] @ a.T + b
        pos += 1 + size * size + 2 * size
    return moved


def read_mixture_weights(path: Path) -> np.ndarray:
    """A float mixture-weights file ([senone][stream][density], as write_s3_array writes it)."""
    data, offset = read_s3_header(path)
    d1, d2, d3, count = struct.unpack_from("<4i", data, offset)
    return np.frombuffer(data, "<f4", count, offset + 16).reshape(d1, d2, d3)


def sendump(prepared: Path, mixw: Path, out: Path) -> None:
    """The 8-bit sendump PocketSphinx loads; `-mwfloor 1e-8` keeps the small weights the shipped sendump
    holds (reference §2 item 6)."""
    args = [tool("mk_s2sendump"), "-pocketsphinx", "yes", "-mwfloor", "1e-8"]
    run_tool(args + ["-moddeffn", str(prepared / "mdef.txt"), "-mixwfn", str(mixw), "-sendumpfn", str(out)])
