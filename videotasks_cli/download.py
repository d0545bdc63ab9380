"""A task's media to a file, resumable: bytes go to FILE.part, and a later run continues it with an HTTP
Range request (S3 presigned URLs honour Range), so a large video interrupted at 90 % costs 10 % again.

FILE appears only once the whole object is there (the .part is renamed), so a FILE that exists is whole.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from videotasks_cli.client import unreachable
from videotasks_cli.exit_codes import CliError, ExitCode

CHUNK_BYTES = 256 * 1024
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
EXTENSIONS = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "image/jpeg": ".jpg"}


class Progress(Protocol):
    def start(self, total: int | None, done: int) -> None: ...

    def advance(self, size: int) -> None: ...


@dataclass(frozen=True)
class Downloaded:
    path: Path
    bytes: int
    resumed_from: int  # bytes kept from an earlier, interrupted run (0: from the start)


def default_name(video_id: str, content_type: str) -> str:
    extension = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return f"{video_id}{extension}"


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _total(response: httpx.Response, offset: int) -> int | None:
    """The object's size: from Content-Range on a 206 (`bytes a-b/total`), else Content-Length."""
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("content-length")
    return int(length) + offset if length and length.isdigit() else None


def fetch(
    url: str,
    target: Path,
    progress: Progress,
    *,
    token: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Downloaded:
    """``url`` (a presigned media URL) into ``target``, continuing ``target``.part when there is one."""
    partial = part_path(target)
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=True, transport=transport) as http,
            http.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == 416 and offset:
                # Nothing after the bytes we hold: the .part is the whole object (interrupted before the rename).
                progress.start(offset, offset)
                partial.replace(target)
                return Downloaded(target, offset, offset)
            if response.status_code not in (200, 206):
                raise CliError(
                    f"the media link answered HTTP {response.status_code} (it may have expired: run the command again)",
                    ExitCode.API_ERROR,
                )
            resumed = offset if response.status_code == 206 else 0  # a 200 ignored the Range: start over
            progress.start(_total(response, resumed), resumed)
            with partial.open("ab" if resumed else "wb") as handle:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    handle.write(chunk)
                    progress.advance(len(chunk))
    except httpx.TransportError as error:
        # The presigned URL's query is a credential of its own: name the host only.
        host = httpx.URL(url).host
        raise unreachable(f"the media host {host}", error, token) from None
    size = partial.stat().st_size
    partial.replace(target)
    return Downloaded(target, size, resumed)
