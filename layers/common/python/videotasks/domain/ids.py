"""The dual-ID scheme (the old backend's): our ``videoId`` and the provider's ``externalVideoId``."""

from __future__ import annotations

import re
import uuid

VIDEO_ID_PREFIX = "video_"
VIDEO_ID_PATTERN = r"^video_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_VIDEO_ID_RE = re.compile(VIDEO_ID_PATTERN)


def new_video_id() -> str:
    return f"{VIDEO_ID_PREFIX}{uuid.uuid4()}"


def is_video_id(value: str) -> bool:
    return bool(_VIDEO_ID_RE.fullmatch(value))  # fullmatch: "$" alone would let a trailing newline through
