"""The poster step: a frame of each finished video, stored beside it and recorded on its task.

Best effort, after the task is COMPLETED (the state machine's ``MakePoster`` state, every error caught into
``Done``): a video without a poster still plays, so nothing here can fail a task. The archived video is
copied to the function's temporary storage (ranged GETs, never whole in memory; a video whose index sits at
its end needs all of it anyway) and ffmpeg writes one JPEG of it. The task records the poster's key only while
it is still COMPLETED with that very media, so a task deleted meanwhile never gets a poster, and the poster
object written for it is removed again.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from videotasks.adapters.frames import FrameError, FrameGrabber
from videotasks.adapters.media import MediaStore, MissingMediaError
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import TaskStatus, TaskType
from videotasks.domain.posters import POSTER_CONTENT_TYPE, POSTER_TIMEOUT_SECONDS, poster_key
from videotasks.domain.wire import task_ids

logger = Logger(child=True)

# Left for the upload and the conditional write after ffmpeg.
_RESERVE_SECONDS = 5.0


@dataclass(frozen=True)
class PosterResult:
    videoId: str
    posterKey: str | None
    skipped: str | None = None  # why no poster was made, for the execution's history

    def as_dict(self) -> dict[str, Any]:
        return {"videoId": self.videoId, "posterKey": self.posterKey, "skipped": self.skipped}


class PosterMaker:
    def __init__(self, repository: TaskRepository, media: MediaStore, grabber: FrameGrabber) -> None:
        self._repository = repository
        self._media = media
        self._grabber = grabber

    @tracer.capture_method(capture_response=False)
    def make(self, video_id: str, deadline: Deadline | None = None) -> PosterResult:
        task = self._repository.get(video_id)
        if task is None:
            return PosterResult(video_id, None, "the task is gone")
        logger.append_keys(**task_ids(task))
        if task.type is not TaskType.VIDEO or task.status is not TaskStatus.COMPLETED or not task.mediaKey:
            return PosterResult(video_id, None, "no finished video")
        if task.posterKey:  # a retried or repeated step: the poster is there already
            return PosterResult(video_id, task.posterKey, None)
        timeout = (deadline or Deadline.none()).minus(_RESERVE_SECONDS).cap(POSTER_TIMEOUT_SECONDS)
        if timeout < 1:
            return PosterResult(video_id, None, "no time left in the step")
        with tempfile.TemporaryDirectory(prefix="poster-") as folder:
            video = Path(folder) / "video"
            try:
                self._media.download(task.mediaKey, video)
                frame = self._grabber.jpeg(str(video), timeout_seconds=timeout)
            except MissingMediaError:
                logger.warning("no poster: the video is not in the bucket")
                return PosterResult(video_id, None, "the video is not in the bucket")
            except FrameError as exc:
                logger.warning("no poster: the video gave no frame", extra={"reason": str(exc)})
                return PosterResult(video_id, None, str(exc))
        key = poster_key(task.mediaKey)
        self._media.put_bytes(key, frame, POSTER_CONTENT_TYPE)
        try:
            self._repository.set_poster(task, key)
        except StaleWriteError:
            # Deleted (or, some day, changed) while the frame was taken: the poster must not outlive it.
            self._media.delete(key)
            logger.info("the task changed while its poster was made; poster removed")
            return PosterResult(video_id, None, "the task changed meanwhile")
        logger.info("poster stored", extra={"posterBytes": len(frame)})
        return PosterResult(video_id, key, None)
