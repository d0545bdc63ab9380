"""One frame of a video, by the ffmpeg binary the poster function's layer ships (imageio-ffmpeg's static build).

The only module that runs ffmpeg; imported by the poster function alone, so no other function needs the
layer. ffmpeg's own error line is passed on with any URL in it masked (a signed URL is a credential).
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

from videotasks.domain.posters import POSTER_OFFSET_SECONDS, POSTER_TIMEOUT_SECONDS, poster_command


class FrameError(Exception):
    """No frame could be taken: the video is missing, unreadable or empty."""


@functools.cache
def ffmpeg_path() -> str:
    import imageio_ffmpeg  # type: ignore[import-untyped]  # the layer's; IMAGEIO_FFMPEG_EXE overrides its binary

    return str(imageio_ffmpeg.get_ffmpeg_exe())


class FrameGrabber:
    def __init__(self, ffmpeg: str | None = None) -> None:
        self._ffmpeg = ffmpeg

    def jpeg(self, source: str, *, timeout_seconds: float = POSTER_TIMEOUT_SECONDS) -> bytes:
        """A JPEG of ``source`` a little in, or its first frame when it is shorter than that. Each ffmpeg run
        gets ``timeout_seconds``, so at most twice that in all (the second only for very short videos)."""
        ffmpeg = self._ffmpeg or ffmpeg_path()
        timeout = timeout_seconds
        with tempfile.TemporaryDirectory(prefix="poster-") as folder:
            target = Path(folder) / "poster.jpg"
            for offset in (POSTER_OFFSET_SECONDS, 0.0):
                self._run(poster_command(ffmpeg, source, str(target), offset_seconds=offset), timeout)
                if target.is_file() and target.stat().st_size > 0:
                    return target.read_bytes()
        raise FrameError("the video has no frame to show")

    @staticmethod
    def _run(command: list[str], timeout: float) -> None:
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise FrameError(f"ffmpeg took longer than {timeout:g}s") from None
        except OSError as exc:
            raise FrameError(f"ffmpeg could not run: {exc.strerror}") from None
        if done.returncode != 0:
            # ffmpeg's first line says what went wrong (e.g. "Server returned 404 Not Found"); the command
            # line, which holds the signed URL, is never repeated.
            first = next(iter(done.stderr.decode(errors="replace").strip().splitlines()), "")
            raise FrameError(f"ffmpeg exited {done.returncode}: {_without_urls(first)[:200]}")


def _without_urls(line: str) -> str:
    return " ".join("<url>" if "://" in word else word for word in line.split())
