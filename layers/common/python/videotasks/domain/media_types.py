"""Which media we store and hand out: an allow-list of video and raster image types.

The bucket serves objects under our name through presigned URLs, so whatever Content-Type we store is
what a browser acts on. A provider (or a relay, or a CDN in front of it) that answers with HTML or SVG
would otherwise have script run from our bucket's origin. So the type is never taken on trust: a
declared type must be on the allow-list; a missing or generic one (``application/octet-stream`` is
common from CDNs) is decided by the file's first bytes; anything else is refused.

Pure rules, no I/O: the workflow peeks at the first bytes and asks ``checked_media_type``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

# Allowed types and the extension their objects get. Raster images and browser-playable video only:
# no image/svg+xml (it is a script-capable document), no text/*, no application/*.
ALLOWED_MEDIA_TYPES: dict[str, str] = {
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
# Spellings seen in the wild for allowed types.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
# Types that say nothing about the content: the bytes decide.
GENERIC_MEDIA_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})
# Enough bytes for every signature below (WebP's brand sits at bytes 8-11, MP4's ``ftyp`` at 4-7).
SNIFF_BYTES = 16

_QUICKTIME_BRANDS = (b"qt  ",)
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


class UnsafeMediaError(ValueError):
    """The media is not a type we store; the message names what was seen."""


def normalise_media_type(header: str | None) -> str:
    """``Video/MP4; codecs="avc1"`` -> ``video/mp4``; aliases mapped; missing -> ``""``."""
    essence = (header or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(essence, essence)


def sniff_media_type(head: bytes) -> str | None:
    """The allowed type whose signature ``head`` (the first bytes) carries, else None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        # ISO base media (MP4, MOV, 3GP...): the major brand tells QuickTime from the MP4 family.
        return "video/quicktime" if head[8:12] in _QUICKTIME_BRANDS else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM (and Matroska, which browsers play as WebM)
        return "video/webm"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def checked_media_type(declared: str | None, head: bytes) -> str:
    """The type to store for media declared as ``declared`` whose first bytes are ``head``.

    An allowed declared type stands (browsers never sniff a video/* or image/* reply into a document).
    A generic or missing one is replaced by what the bytes are. A declared type that is not allowed is
    refused even when the bytes look like media: the provider said it served something else (often an
    error page), and guessing past that would hide the problem.
    """
    media_type = normalise_media_type(declared)
    if media_type in ALLOWED_MEDIA_TYPES:
        return media_type
    if media_type in GENERIC_MEDIA_TYPES:
        sniffed = sniff_media_type(head)
        if sniffed is not None:
            return sniffed
        shown = media_type or "no Content-Type"
        raise UnsafeMediaError(f"the media ({shown}) is not a video or image of an allowed format")
    raise UnsafeMediaError(f"the media type {media_type!r} is not an allowed video or image type")


def extension_for(media_type: str) -> str:
    return ALLOWED_MEDIA_TYPES.get(normalise_media_type(media_type), "bin")


def content_disposition(video_id: str, media_type: str, kind: str = "inline") -> str:
    """``inline; filename="<videoId>.<ext>"``, the name reduced to characters no header can misread."""
    name = _SAFE_FILENAME.sub("_", video_id)[:128] or "media"
    return f'{kind}; filename="{name}.{extension_for(media_type)}"'


def peek(chunks: Iterator[bytes], size: int = SNIFF_BYTES) -> tuple[bytes, Iterator[bytes]]:
    """The first ``size`` bytes of a chunk stream (fewer if it is shorter), and the whole stream again."""
    taken: list[bytes] = []
    length = 0
    for chunk in chunks:
        taken.append(chunk)
        length += len(chunk)
        if length >= size:
            break
    return b"".join(taken)[:size], itertools.chain(taken, chunks)


def served_media_type(stored: str | None) -> tuple[str, str]:
    """(Content-Type, disposition kind) to serve an object stored as ``stored`` with. Objects stored
    before the allow-list existed may carry any type: those are served as a download, never inline."""
    media_type = normalise_media_type(stored)
    if media_type in ALLOWED_MEDIA_TYPES:
        return media_type, "inline"
    return "application/octet-stream", "attachment"
