"""Reading content that a request names by URL (datasets' `contentUrl`, batch transcriptions' inputs).

`file://` URLs are read only under the operator's `content_root` (none by default), after resolving links,
so a request cannot read the server's own files; http(s) URLs are fetched with a size limit.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from parlance.errors import BadRequest, PayloadTooLarge
from parlance.settings import Settings

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def local_path(url: str, settings: Settings) -> Path:
    """The file a `file://` URL names, if it lies under `content_root`; 400 otherwise."""
    root = settings.content_root
    if root is None:
        raise BadRequest("file:// URLs are not allowed on this server (the operator sets PARLANCE_CONTENT_ROOT)")
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise BadRequest(f"The file URL {url} names another host")
    path = Path(unquote(parsed.path)).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BadRequest(f"The file URL {url} is outside the folder this server may read")
    return path


def fetch(url: str, settings: Settings, limit: int) -> bytes:
    """The bytes behind `url` (file:// under `content_root`, or http(s)), at most `limit` of them."""
    scheme = urlparse(url).scheme.lower()
    if scheme == "file":
        path = local_path(url, settings)
        if not path.is_file():
            raise BadRequest(f"The file {url} does not exist")
        if path.stat().st_size > limit:
            raise PayloadTooLarge(f"The file {url} is larger than the limit of {limit} bytes")
        return path.read_bytes()
    if scheme not in ("http", "https"):
        raise BadRequest(f"The URL {url} is not an http(s) or file URL")
    chunks, size = [], 0
    try:
        with httpx.stream("GET", url, timeout=TIMEOUT, follow_redirects=False) as response:
            if response.status_code != 200:
                raise BadRequest(f"The URL {url} could not be read (HTTP {response.status_code})")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The content of {url} is larger than the limit of {limit} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise BadRequest(f"The URL {url} could not be read: {type(exc).__name__}") from None
    return b"".join(chunks)
