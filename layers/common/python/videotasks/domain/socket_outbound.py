"""The WebSocket contract's server messages (docs/FRONTEND_INTEGRATION.md), built from tasks.

Pure: no I/O. Every message is ``{"type", "timestamp" (ms), "payload"}``. Task messages carry both ids
(``videoId`` and ``externalVideoId``, null until the provider has the job) and the old backend's lowercase
wire status (docs/LEGACY_CONTRACT.md); ``updatedAt`` (when the change was written) is added so a client can
order what it receives.

``is_worth_sending`` decides which writes of a task are news: a new task, a status change, a progress
change, or the provider's id becoming known. Bookkeeping writes (``pollAttempts``, ``executionArn``,
``providerStatus`` with nothing else moving) send nothing, and a terminal task never sends again, so a
client sees exactly one terminal message per task. A COMPLETED video's poster, made after it ended, is told
by a message of its own, ``taskPoster`` (``poster_arrived``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from videotasks.domain import messages
from videotasks.domain.failures import public_error
from videotasks.domain.ids import VIDEO_ID_PATTERN
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType
from videotasks.domain.wire import WIRE_STATUS, queue_position, task_ids


class MessageType(StrEnum):
    TASK_PROGRESS = "taskProgress"
    TASK_COMPLETED = "taskCompleted"
    TASK_FAILED = "taskFailed"
    TASK_CANCELLED = "taskCancelled"
    TASK_DELETED = "taskDeleted"
    TASK_POSTER = "taskPoster"
    # replies to the client's own messages
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PONG = "pong"
    ERROR = "error"
    AUTHENTICATED = "authenticated"


TASK_MESSAGE_TYPES: dict[TaskStatus, MessageType] = {
    TaskStatus.QUEUED: MessageType.TASK_PROGRESS,
    TaskStatus.PROCESSING: MessageType.TASK_PROGRESS,
    TaskStatus.COMPLETED: MessageType.TASK_COMPLETED,
    TaskStatus.FAILED: MessageType.TASK_FAILED,
    TaskStatus.CANCELLED: MessageType.TASK_CANCELLED,
}


# The models: every message we send is built through one of them, so docs/asyncapi.yaml (generated from
# them by local/asyncapi_export.py) cannot drift from the wire. ``extra="forbid"`` makes each schema closed.
class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _is_none(value: object) -> bool:
    return value is None


class TaskPayload(_Wire):
    """Where a task stands: a snapshot, never a delta."""

    videoId: str = Field(pattern=VIDEO_ID_PATTERN, description="Our task id, `video_<uuid4>`")
    externalVideoId: str | None = Field(description="The provider's id; null until the provider has the job")
    status: str
    progress: int = Field(ge=0, le=100)
    message: str = Field(description="A short human sentence about the task")
    updatedAt: str = Field(description="When the change was written (ISO 8601, UTC)")


class ProgressPayload(TaskPayload):
    status: Literal["queued", "in_progress"]
    queuePosition: int | None = Field(
        default=None, ge=1, description="1-based place among the owner's waiting tasks; null unless queued"
    )


class MediaResult(_Wire):
    videoUrl: str | None = Field(description="The playable URL (a video or an image), presigned and short-lived")
    posterUrl: str | None = Field(
        default=None,
        description="A video's poster frame (JPEG), presigned and short-lived; null for images and until the "
        "poster is made (a `taskPoster` message brings it)",
    )


class CompletedPayload(TaskPayload):
    status: Literal["completed"]
    result: MediaResult


class FailedPayload(TaskPayload):
    status: Literal["failed"]
    error: TaskError


class CancelledPayload(TaskPayload):
    status: Literal["cancelled"]


class DeletedPayload(_Wire):
    """Which task is gone: its record and media are deleted, and nothing more will be said about it."""

    videoId: str = Field(pattern=VIDEO_ID_PATTERN, description="Our task id, `video_<uuid4>`")
    externalVideoId: str | None = Field(description="The provider's id; null if the provider never had the job")


class PosterPayload(_Wire):
    """A finished video's poster frame is ready; ``result`` holds fresh URLs of the video and the poster."""

    videoId: str = Field(pattern=VIDEO_ID_PATTERN, description="Our task id, `video_<uuid4>`")
    externalVideoId: str | None = Field(description="The provider's id")
    updatedAt: str = Field(description="When the poster was recorded (ISO 8601, UTC)")
    result: MediaResult


class ScopePayload(_Wire):
    videoId: str | None = Field(description="The task; null for all of the caller's tasks")
    scope: Literal["all", "task"]


class EmptyPayload(_Wire):
    pass


class ErrorPayload(_Wire):
    code: str = Field(description="One of the HTTP API's error codes")
    message: str
    # Absent (not null) when there is nothing to say: the shape clients have always read.
    videoId: str | SkipJsonSchema[None] = Field(default=None, exclude_if=_is_none, description="The task it was about")
    knownActions: list[str] | SkipJsonSchema[None] = Field(
        default=None, exclude_if=_is_none, description="The actions we understand, when the message named none of them"
    )


class AuthenticatedPayload(_Wire):
    userId: str = Field(description="The user this connection was opened as (at the handshake)")


class ServerMessage(_Wire):
    """``{"type", "timestamp" (ms, when it was sent), "payload"}``."""

    KIND: ClassVar[MessageType]
    timestamp: int = Field(description="When the message was sent, in Unix milliseconds")

    @classmethod
    def build(cls, payload: BaseModel | dict[str, Any], *, timestamp_ms: int) -> dict[str, Any]:
        """The message as sent: validated against this model, then dumped as JSON-ready data."""
        message = cls.model_validate({"type": cls.KIND.value, "timestamp": timestamp_ms, "payload": payload})
        return message.model_dump(mode="json")


class TaskProgress(ServerMessage):
    """The task was created, started, or its progress moved."""

    KIND = MessageType.TASK_PROGRESS
    type: Literal["taskProgress"]
    payload: ProgressPayload


class TaskCompleted(ServerMessage):
    """The task finished: its media is at ``result.videoUrl``."""

    KIND = MessageType.TASK_COMPLETED
    type: Literal["taskCompleted"]
    payload: CompletedPayload


class TaskFailed(ServerMessage):
    """The task failed (provider failure, timeout, lost job)."""

    KIND = MessageType.TASK_FAILED
    type: Literal["taskFailed"]
    payload: FailedPayload


class TaskCancelled(ServerMessage):
    """The task was cancelled."""

    KIND = MessageType.TASK_CANCELLED
    type: Literal["taskCancelled"]
    payload: CancelledPayload


class TaskDeleted(ServerMessage):
    """The task was deleted by its owner (from any client): drop it from the view."""

    KIND = MessageType.TASK_DELETED
    type: Literal["taskDeleted"]
    payload: DeletedPayload


class TaskPoster(ServerMessage):
    """A COMPLETED video's poster frame is ready, after its ``taskCompleted`` (never a second ending)."""

    KIND = MessageType.TASK_POSTER
    type: Literal["taskPoster"]
    payload: PosterPayload


class Subscribed(ServerMessage):
    """Answers a subscription to all of the caller's tasks (one task is answered with its task message)."""

    KIND = MessageType.SUBSCRIBED
    type: Literal["subscribed"]
    payload: ScopePayload


class Unsubscribed(ServerMessage):
    """Answers an unsubscription, from one task or from all."""

    KIND = MessageType.UNSUBSCRIBED
    type: Literal["unsubscribed"]
    payload: ScopePayload


class Pong(ServerMessage):
    """Answers a ping."""

    KIND = MessageType.PONG
    type: Literal["pong"]
    payload: EmptyPayload


class Error(ServerMessage):
    """A refused client message; nothing changed."""

    KIND = MessageType.ERROR
    type: Literal["error"]
    payload: ErrorPayload


class Authenticated(ServerMessage):
    """Answers the old client's ``auth`` message whose token is this connection's user's."""

    KIND = MessageType.AUTHENTICATED
    type: Literal["authenticated"]
    payload: AuthenticatedPayload


TASK_MESSAGES: dict[MessageType, type[TaskProgress | TaskCompleted | TaskFailed | TaskCancelled]] = {
    model.KIND: model for model in (TaskProgress, TaskCompleted, TaskFailed, TaskCancelled)
}
SERVER_MESSAGES: tuple[type[ServerMessage], ...] = (
    *TASK_MESSAGES.values(),
    TaskDeleted,
    TaskPoster,
    Subscribed,
    Unsubscribed,
    Pong,
    Error,
    Authenticated,
)


class GatewayFault(BaseModel):
    """API Gateway's own answer when our function fails (never built here; documented so clients expect it)."""

    model_config = ConfigDict(extra="forbid")
    message: Literal["Internal server error"]
    connectionId: str
    requestId: str


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def task_message(
    task: Task,
    *,
    video_url: str | None,
    timestamp_ms: int,
    lang: str = messages.DEFAULT_LANG,
    poster_url: str | None = None,
) -> dict[str, Any]:
    """The message that tells a client where ``task`` stands, its texts in ``lang``; ``video_url`` is the
    playable URL of a COMPLETED task and ``poster_url`` its poster's (the caller signs both)."""
    payload: dict[str, Any] = {
        **task_ids(task),
        "status": WIRE_STATUS[task.status],
        "progress": task.progress,
        "message": status_text(task, lang),
        "updatedAt": task.updatedAt,
    }
    if task.status in (TaskStatus.QUEUED, TaskStatus.PROCESSING):
        payload["queuePosition"] = queue_position(task)
    if task.status is TaskStatus.COMPLETED:
        payload["result"] = {"videoUrl": video_url, "posterUrl": poster_url}
    elif task.status is TaskStatus.FAILED:
        payload["error"] = public_error(task.error or _UNKNOWN_FAILURE, lang)
    model = TASK_MESSAGES[TASK_MESSAGE_TYPES[task.status]]
    return model.build(payload, timestamp_ms=timestamp_ms)


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
    if new is None:  # a deleted task is told by ``task_deleted``, not as a change of state
        return False
    if old is None:  # a new task: clients following all of the user's tasks learn about it
        return True
    if old.is_terminal:  # terminal states never change; a later write is bookkeeping, never a 2nd ending
        return False
    return (
        new.status is not old.status
        or new.progress != old.progress
        or new.externalTaskId != old.externalTaskId
        or queue_position(new) != queue_position(old)
    )


def poster_arrived(old: Task | None, new: Task | None) -> bool:
    """Whether the write that turned ``old`` into ``new`` recorded a COMPLETED video's poster: news told by
    ``task_poster``, the one message that may follow a terminal one."""
    return (
        old is not None
        and new is not None
        and new.status is TaskStatus.COMPLETED
        and new.posterKey is not None
        and new.posterKey != old.posterKey
    )


def task_poster(task: Task, *, video_url: str | None, poster_url: str | None, timestamp_ms: int) -> dict[str, Any]:
    """The message that brings a finished video's poster frame (no text to translate)."""
    payload = {
        **task_ids(task),
        "updatedAt": task.updatedAt,
        "result": {"videoUrl": video_url, "posterUrl": poster_url},
    }
    return TaskPoster.build(payload, timestamp_ms=timestamp_ms)


def task_deleted(task: Task, *, timestamp_ms: int) -> dict[str, Any]:
    """The message that tells a client ``task`` (the last image of its item) is deleted."""
    return TaskDeleted.build(DeletedPayload(**task_ids(task)), timestamp_ms=timestamp_ms)


# replies to the client ------------------------------------------------------------------------------
def subscribed(video_id: str | None, *, timestamp_ms: int) -> dict[str, Any]:
    """Acknowledges a subscription to all of the caller's tasks (one task is answered with its state)."""
    return Subscribed.build(_scope(video_id), timestamp_ms=timestamp_ms)


def unsubscribed(video_id: str | None, *, timestamp_ms: int) -> dict[str, Any]:
    return Unsubscribed.build(_scope(video_id), timestamp_ms=timestamp_ms)


def pong(*, timestamp_ms: int) -> dict[str, Any]:
    return Pong.build(EmptyPayload(), timestamp_ms=timestamp_ms)


def authenticated(user_id: str, *, timestamp_ms: int) -> dict[str, Any]:
    return Authenticated.build(AuthenticatedPayload(userId=user_id), timestamp_ms=timestamp_ms)


def error(
    code: str,
    message: str,
    *,
    timestamp_ms: int,
    video_id: str | None = None,
    known_actions: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A refused client message; nothing changed. ``code`` is one of the HTTP API's error codes."""
    payload = ErrorPayload(
        code=code,
        message=message,
        videoId=video_id,
        knownActions=list(known_actions) if known_actions is not None else None,
    )
    return Error.build(payload, timestamp_ms=timestamp_ms)


def _scope(video_id: str | None) -> ScopePayload:
    return ScopePayload(videoId=video_id, scope="all" if video_id is None else "task")
