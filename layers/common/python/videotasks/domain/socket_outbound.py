"""The WebSocket contract's server messages (docs/FRONTEND_INTEGRATION.md), built from tasks.

Pure: no I/O. Every message is ``{"type", "timestamp" (ms), "payload"}``. Task messages carry both ids
(``videoId`` and ``externalVideoId``, null until the provider has the job) and the old backend's lowercase
wire status (docs/LEGACY_CONTRACT.md); ``updatedAt`` (when the change was written) is added so a client can
order what it receives.

``is_worth_sending`` decides which writes of a task are news: a new task, a status change, a progress
change, or the provider's id becoming known. Bookkeeping writes (``pollAttempts``, ``executionArn``,
``providerStatus`` with nothing else moving) send nothing, and a terminal task never sends again, so a
client sees exactly one terminal message per task.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from videotasks.domain import messages
from videotasks.domain.failures import public_error
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType
from videotasks.domain.wire import WIRE_STATUS, task_ids


class MessageType(StrEnum):
    TASK_PROGRESS = "taskProgress"
    TASK_COMPLETED = "taskCompleted"
    TASK_FAILED = "taskFailed"
    TASK_CANCELLED = "taskCancelled"
    # replies to the client's own messages
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PONG = "pong"
    ERROR = "error"


TASK_MESSAGE_TYPES: dict[TaskStatus, MessageType] = {
    TaskStatus.QUEUED: MessageType.TASK_PROGRESS,
    TaskStatus.PROCESSING: MessageType.TASK_PROGRESS,
    TaskStatus.COMPLETED: MessageType.TASK_COMPLETED,
    TaskStatus.FAILED: MessageType.TASK_FAILED,
    TaskStatus.CANCELLED: MessageType.TASK_CANCELLED,
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def envelope(kind: MessageType, payload: dict[str, Any], *, timestamp_ms: int) -> dict[str, Any]:
    return {"type": kind.value, "timestamp": timestamp_ms, "payload": payload}


def task_message(
    task: Task, *, video_url: str | None, timestamp_ms: int, lang: str = messages.DEFAULT_LANG
) -> dict[str, Any]:
    """The message that tells a client where ``task`` stands, its texts in ``lang``; ``video_url`` is the
    playable URL of a COMPLETED task (the caller signs it)."""
    payload: dict[str, Any] = {
        **task_ids(task),
        "status": WIRE_STATUS[task.status],
        "progress": task.progress,
        "message": status_text(task, lang),
        "updatedAt": task.updatedAt,
    }
    if task.status is TaskStatus.COMPLETED:
        payload["result"] = {"videoUrl": video_url}
    elif task.status is TaskStatus.FAILED:
        payload["error"] = public_error(task.error or _UNKNOWN_FAILURE, lang)
    return envelope(TASK_MESSAGE_TYPES[task.status], payload, timestamp_ms=timestamp_ms)


_UNKNOWN_FAILURE = TaskError(code="INTERNAL", message="The task failed")


def status_text(task: Task, lang: str = messages.DEFAULT_LANG) -> str:
    """A short sentence in ``lang`` for the payload's ``message`` (the old backend sent one too). A failed
    task's reason is the sentence of its error code, never the provider's words."""
    noun = messages.render("noun_image" if task.type is TaskType.IMAGE else "noun_video", lang)
    reason = public_error(task.error or _UNKNOWN_FAILURE, lang)["message"]
    return messages.render(
        f"status_{task.status.value.lower()}", lang, {"noun": noun, "progress": task.progress, "reason": reason}
    )


def is_worth_sending(old: Task | None, new: Task | None) -> bool:
    """Whether the write that turned ``old`` into ``new`` (stream images; None when absent) is news."""
    if new is None:  # a deleted item: tasks are never deleted by the application, so nobody follows it
        return False
    if old is None:  # a new task: clients following all of the user's tasks learn about it
        return True
    if old.is_terminal:  # terminal states never change; a later write is bookkeeping, never a 2nd ending
        return False
    return new.status is not old.status or new.progress != old.progress or new.externalTaskId != old.externalTaskId


# replies to the client ------------------------------------------------------------------------------
def subscribed(video_id: str | None, *, timestamp_ms: int) -> dict[str, Any]:
    """Acknowledges a subscription to all of the caller's tasks (one task is answered with its state)."""
    return envelope(MessageType.SUBSCRIBED, _scope(video_id), timestamp_ms=timestamp_ms)


def unsubscribed(video_id: str | None, *, timestamp_ms: int) -> dict[str, Any]:
    return envelope(MessageType.UNSUBSCRIBED, _scope(video_id), timestamp_ms=timestamp_ms)


def pong(*, timestamp_ms: int) -> dict[str, Any]:
    return envelope(MessageType.PONG, {}, timestamp_ms=timestamp_ms)


def error(
    code: str,
    message: str,
    *,
    timestamp_ms: int,
    video_id: str | None = None,
    known_actions: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A refused client message; nothing changed. ``code`` is one of the HTTP API's error codes."""
    payload: dict[str, Any] = {"code": code, "message": message}
    if video_id is not None:
        payload["videoId"] = video_id
    if known_actions is not None:
        payload["knownActions"] = list(known_actions)
    return envelope(MessageType.ERROR, payload, timestamp_ms=timestamp_ms)


def _scope(video_id: str | None) -> dict[str, Any]:
    return {"videoId": video_id, "scope": "all" if video_id is None else "task"}
