"""Where a client plays a task's result: a fresh presigned URL of our stored copy, signed on every read
(the HTTP Task, its content route and the WebSocket messages all hand out this one), and of its poster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from videotasks.adapters.media import MediaStore
from videotasks.domain.models import Task, TaskStatus
from videotasks.domain.posters import POSTER_CONTENT_TYPE


@dataclass(frozen=True)
class MediaLink:
    url: str
    expires_at: datetime


def media_link(task: Task, media: MediaStore, ttl_seconds: int) -> MediaLink | None:
    """The task's playable link; None until it is COMPLETED, since only then is its media stored and final."""
    if task.status is not TaskStatus.COMPLETED or not task.mediaKey:
        return None
    url, expires_at = media.task_media_url(task, ttl_seconds)
    return MediaLink(url, expires_at)


def poster_url(task: Task, media: MediaStore, ttl_seconds: int) -> str | None:
    """A COMPLETED video's poster frame, once the poster step made one; None otherwise (images are their own
    picture)."""
    if task.status is not TaskStatus.COMPLETED or not task.posterKey:
        return None
    url, _ = media.presigned_url(task.posterKey, ttl_seconds, content_type=POSTER_CONTENT_TYPE)
    return url


def playable_url(task: Task, media: MediaStore, ttl_seconds: int) -> str | None:
    link = media_link(task, media, ttl_seconds)
    return link.url if link else None
