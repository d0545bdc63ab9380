"""Poster frames of finished videos: where a poster is stored and the ffmpeg command that makes one. Pure.

A poster sits beside its video under the same ``media/`` prefix (``<mediaKey>.poster.jpg``), so the media
grants and the bucket's lifecycle cover both, and deleting a task deletes the two keys it knows.
"""

from __future__ import annotations

POSTER_CONTENT_TYPE = "image/jpeg"
POSTER_SUFFIX = ".poster.jpg"
# Wide enough for a gallery card on a 2x screen, a few tens of KB as JPEG.
POSTER_WIDTH = 640
# A little into the video: the very first frame is often black or a fade-in.
POSTER_OFFSET_SECONDS = 0.5
# One frame of a local file takes well under a second; a stuck ffmpeg must not hold the step.
POSTER_TIMEOUT_SECONDS = 30


def poster_key(media_key: str) -> str:
    """Where the poster of the video stored at ``media_key`` goes."""
    return f"{media_key}{POSTER_SUFFIX}"


def is_poster_key(key: str) -> bool:
    return key.endswith(POSTER_SUFFIX)


def poster_command(
    ffmpeg: str,
    source: str,
    target: str,
    *,
    offset_seconds: float = POSTER_OFFSET_SECONDS,
    width: int = POSTER_WIDTH,
) -> list[str]:
    """The ffmpeg arguments that write one JPEG frame of ``source`` (a URL or a path) to ``target``.

    ``-ss`` before ``-i`` seeks in the input (fast: no decoding up to the offset); a video shorter than the
    offset yields no frame, so the caller tries again at 0. The scale keeps the aspect ratio and never
    enlarges (``min(iw, width)``); ``-2`` keeps the height even, which JPEG encoders prefer.
    """
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-ss",
        f"{offset_seconds:g}",
        "-i",
        source,
        "-frames:v",
        "1",
        "-an",
        "-vf",
        f"scale='min(iw,{width})':-2",
        "-q:v",
        "4",
        "-f",
        "image2",
        "-y",
        target,
    ]
