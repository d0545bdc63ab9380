"""The client-facing forms of a task, each produced here and nowhere else (docs/API.md,
docs/FRONTEND_INTEGRATION.md): the HTTP Task JSON, the ids every message carries, and the status words.

The provider's job id is stored once, as the task's ``externalTaskId`` (the ``ByExternalTaskId`` index's
key). Clients know it by three names: ``externalVideoId`` everywhere, and in HTTP Task JSON also
``externalTaskId`` and ``metadata.externalTaskId``, as the old backend sent it. All three are made here
from the one stored field; items written before the id stopped being copied into ``metadata`` still
carry that copy, and the stored field overrides it on the way out.

The console mirrors the status words in ``console/js/wire.js``, generated from this module
(``python -m local.console_wire``; a static test fails when the two disagree).
"""

from __future__ import annotations

from typing import Any

from videotasks.domain.failures import public_error
from videotasks.domain.messages import DEFAULT_LANG
from videotasks.domain.models import Task, TaskStatus, parse_iso

# The old backend's lowercase status words (docs/LEGACY_CONTRACT.md), which every WebSocket payload carries.
WIRE_STATUS: dict[TaskStatus, str] = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.PROCESSING: "in_progress",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}

# Every word a client may name a status by, lowercased (matching ignores case): the HTTP names, the
# WebSocket words, and the old backend's spellings.
STATUS_WORDS: dict[str, TaskStatus] = {
    **{status.value.lower(): status for status in TaskStatus},
    **{word: status for status, word in WIRE_STATUS.items()},
    "pending": TaskStatus.QUEUED,
    "canceled": TaskStatus.CANCELLED,
}

# Kept in the table for the workflow, never shown to clients.
INTERNAL_FIELDS = frozenset(
    {
        "userId",
        "executionArn",
        "mediaKey",
        "mediaContentType",
        "posterKey",
        "pollAttempts",
        "submitStartedAt",
        "submitAttempts",
        "plan",
        "provider",
        "providerModel",
        "remixSource",
    }
)


def status_of_word(word: str) -> TaskStatus | None:
    return STATUS_WORDS.get(word.strip().lower())


def task_ids(task: Task) -> dict[str, str | None]:
    """Both ids, as every message and log line about a task names them (the provider's is null until
    the job is submitted)."""
    return {"videoId": task.videoId, "externalVideoId": task.externalTaskId}


def unix_seconds(stamp: str) -> int:
    """An ISO 8601 time as whole Unix seconds."""
    return int(parse_iso(stamp).timestamp())


def queue_position(task: Task) -> int | None:
    """Where the task waits in its owner's queue (1-based), null unless it is waiting: a stored position
    outlives the wait until nobody rewrites it."""
    return task.queuePosition if task.status is TaskStatus.QUEUED else None


def started_at(task: Task) -> str | None:
    """When generation started: Submit's first request to the provider (null while the task waits)."""
    return task.submitStartedAt


def finished_at(task: Task) -> str | None:
    """When the task ended, whichever way; null while it runs. A task that ended before ``finishedAt`` was
    written falls back on ``completedAt``, or on its last write: an ended task is never written again."""
    if not task.is_terminal:
        return None
    return task.finishedAt or task.completedAt or task.updatedAt


def task_json(
    task: Task, *, video_url: str | None, poster_url: str | None = None, lang: str = DEFAULT_LANG
) -> dict[str, Any]:
    """The HTTP API's Task: internal fields dropped, the provider's id under its three names.
    ``video_url`` is the playable URL of a COMPLETED task and ``poster_url`` its poster frame's (the caller
    signs both), else None; a failed task's ``error.message`` in ``lang``."""
    external_id = task.externalTaskId
    body = {
        **task_ids(task),
        "externalTaskId": external_id,
        **task.model_dump(mode="json", exclude={*INTERNAL_FIELDS, "videoId", "externalTaskId", "metadata"}),
        # The old backend's dual-id document: metadata.createdAt in Unix seconds beside the provider's id.
        "metadata": {**task.metadata, "externalTaskId": external_id, "createdAt": unix_seconds(task.createdAt)},
        "videoUrl": video_url,
        "posterUrl": poster_url,
        "queuePosition": queue_position(task),
        "startedAt": started_at(task),
        "finishedAt": finished_at(task),
    }
    if task.error is not None:
        body["error"] = public_error(task.error, lang)
    return body
