"""Where a client plays a task's result: a fresh presigned URL of our stored copy, signed on every read
(the HTTP Task, its content route and the WebSocket messages all hand out this one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from videotasks.adapters.media import MediaStore
from videotasks.domain.models import Task, TaskStatus


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


def playable_url(task: Task, media: MediaStore, ttl_seconds: int) -> str | None:
    link = media_link(task, media, ttl_seconds)
    return link.url if link else None
