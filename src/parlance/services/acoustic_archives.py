"""Untrusted audio archives (`application/zip`, `application/gzip` tar) read safely, in memory.

Nothing is ever extracted by a member's name: members are read (with size limits that do not trust the
archive's own headers) and the caller stores them under names of its own. Every refusal is a 400 that
names the member and the rule: path traversal, absolute paths, links and special files, nested archives,
non-audio members, too many members, zip bombs (compression ratio or total size).
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from parlance.errors import BadRequest

MAX_MEMBERS = 1000
MAX_NAME = 128  # Watson: member names, path included
MAX_TOTAL_BYTES = 400 * 1024 * 1024  # uncompressed; 100 MB compressed WAV stays far below
MAX_RATIO = 50  # audio barely compresses (WAV ~1.2x, FLAC ~1x); 50x is a bomb, not speech
ARCHIVE_TYPES = {"application/zip": "zip", "application/gzip": "gzip", "application/x-gzip": "gzip"}
AUDIO_EXTENSIONS = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mp3",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".au": "audio/basic",
    ".ulaw": "audio/mulaw",
    ".alaw": "audio/alaw",
    ".l16": "audio/l16",
    ".raw": "audio/l16",
}
TRANSCRIPT_EXTENSION = ".txt"
NESTED_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")


@dataclass
class Archive:
    compression: str  # zip | gzip
    audio: list[tuple[str, bytes]] = field(default_factory=list)  # (member name, bytes), archive order
    transcripts: dict[str, str] = field(default_factory=dict)  # stem of an audio member -> its text


def check_name(name: str) -> str:
    """A member name as a safe relative POSIX path; directories are returned with a trailing '/'."""
    if not name or len(name) > MAX_NAME:
        raise BadRequest(f"Archive member names must be 1 to {MAX_NAME} characters: '{name[:MAX_NAME]}...'")
    if "\\" in name or "\x00" in name:
        raise BadRequest(f"Archive member '{name}' has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (name[1:2] == ":"):
        raise BadRequest(f"Archive member '{name}' has an absolute path")
    if ".." in path.parts:
        raise BadRequest(f"Archive member '{name}' points outside the archive (path traversal)")
    return name


def _classify(archive: Archive, name: str, data: bytes) -> None:
    suffix = PurePosixPath(name).suffix.lower()
    if data[:4] in NESTED_MAGIC or data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[257:262] == b"ustar":
        raise BadRequest(f"Archive member '{name}' is itself an archive; nested archives are not accepted")
    if suffix == TRANSCRIPT_EXTENSION:
        try:
            archive.transcripts[str(PurePosixPath(name).with_suffix(""))] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"Transcript '{name}' is not UTF-8 text") from None
        return
    if suffix not in AUDIO_EXTENSIONS:
        raise BadRequest(
            f"Archive member '{name}' is not audio: members must be audio files "
            f"({', '.join(sorted(AUDIO_EXTENSIONS))}) or .txt transcripts"
        )
    archive.audio.append((name, data))


def _count(n: int) -> None:
    if n > MAX_MEMBERS:
        raise BadRequest(f"The archive has more than {MAX_MEMBERS} members")


def read_zip(data: bytes) -> Archive:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise BadRequest(f"The body is not a valid zip archive: {exc}") from None
    _count(len(infos))
    archive, total = Archive("zip"), 0
    for info in infos:
        check_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BadRequest(f"Archive member '{info.filename}' is a symbolic link; links are not accepted")
        if info.is_dir():
            continue
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            raise BadRequest(f"Archive member '{info.filename}' is not a regular file")
        if info.flag_bits & 0x1:
            raise BadRequest(f"Archive member '{info.filename}' is encrypted")
        # The sizes in the headers are only claims: reading stops one byte past what they may hold.
        budget = MAX_TOTAL_BYTES - total
        if info.file_size > budget:
            raise BadRequest(f"The archive expands to more than {MAX_TOTAL_BYTES // 2**20} MB (zip bomb?)")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 1 << 20:
            raise BadRequest(f"Archive member '{info.filename}' is compressed more than {MAX_RATIO}x (zip bomb?)")
        try:
            with zf.open(info) as f:
                member = f.read(min(budget, info.file_size) + 1)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError) as exc:
            raise BadRequest(f"Archive member '{info.filename}' cannot be read: {exc}") from None
        if len(member) > info.file_size:
            raise BadRequest(f"Archive member '{info.filename}' is larger than its header says (zip bomb?)")
        total += len(member)
        _classify(archive, info.filename, member)
    return archive


def gunzip_bounded(data: bytes) -> bytes:
    """Decompress gzip without ever holding more than the limits allow."""
    limit = min(MAX_TOTAL_BYTES, MAX_RATIO * len(data) + (1 << 20))
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"The body is not valid gzip data: {exc}") from None
    if len(out) > limit:
        raise BadRequest(
            f"The archive expands more than {MAX_RATIO}x or past {MAX_TOTAL_BYTES // 2**20} MB (gzip bomb?)"
        )
    if not d.eof:
        raise BadRequest("The gzip data is truncated")
    return out


def read_tar_gz(data: bytes) -> Archive:
    raw = gunzip_bounded(data)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
        members = tf.getmembers()
    except (tarfile.TarError, EOFError) as exc:
        raise BadRequest(f"The body is not a gzip-compressed tar archive: {exc}") from None
    _count(len(members))
    archive = Archive("gzip")
    for m in members:
        check_name(m.name)
        if m.issym() or m.islnk():
            raise BadRequest(f"Archive member '{m.name}' is a link; links are not accepted")
        if m.isdir():
            continue
        if not m.isfile():
            raise BadRequest(f"Archive member '{m.name}' is not a regular file")
        try:  # the standard library's own checks for extraction (absolute, outside, special files)
            tarfile.data_filter(m, "/nonexistent-destination")
        except tarfile.FilterError as exc:
            raise BadRequest(f"Archive member '{m.name}' is not safe: {exc}") from None
        f = tf.extractfile(m)
        if f is None:
            raise BadRequest(f"Archive member '{m.name}' cannot be read")
        _classify(archive, m.name, f.read())
    return archive


def read_archive(data: bytes, compression: str) -> Archive:
    archive = read_zip(data) if compression == "zip" else read_tar_gz(data)
    if not archive.audio:
        raise BadRequest("The archive holds no audio files")
    return archive
