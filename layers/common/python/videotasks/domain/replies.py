"""The HTTP API's replies as types: what the OpenAPI document says each route answers, and what the
replies are checked against (tests validate real replies against the document these make).

Every field the server sends is declared and nothing else is allowed (``extra="forbid"`` becomes
``additionalProperties: false``), so a reply that gains or loses a field no longer matches its document.
A field the server always sends, possibly as null, is required and nullable. The success envelope
repeats the data object's fields at its top level (``edge/envelope.py``), and its models say exactly that.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from videotasks.domain.models import Priority, TaskStatus, TaskType


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskFailure(_Reply):
    """Why a FAILED task failed. ``details`` (what the provider said) is there only when known."""

    code: str
    message: str
    details: dict[str, Any] | None = Field(None, description="What the provider said; absent when nothing")


class TaskMetadata(BaseModel):
    """The caller's metadata, plus what the service adds (the old backend's dual-id document)."""

    model_config = ConfigDict(extra="allow")

    externalTaskId: str | None = Field(description="The provider's job id; null until the job is submitted")
    createdAt: int = Field(description="When the task was created, in Unix seconds")


class Task(_Reply):
    """A task as the HTTP API shows it (``domain/wire.task_json``)."""

    videoId: str = Field(description="Our id: video_<uuid4>")
    externalVideoId: str | None = Field(description="The provider's job id; null until the job is submitted")
    externalTaskId: str | None = Field(description="The same id under the old backend's name")
    type: TaskType
    status: TaskStatus
    progress: int = Field(ge=0, le=100)
    prompt: str
    model: str
    seconds: int | None
    size: str | None
    inputReference: str | None
    clientRequestId: str | None
    providerStatus: str | None = Field(description="The provider's own status word, for display")
    error: TaskFailure | None
    metadata: TaskMetadata
    createdAt: str = Field(description="ISO 8601, UTC")
    updatedAt: str = Field(description="ISO 8601, UTC")
    completedAt: str | None = Field(description="ISO 8601, UTC; set once the task has ended")
    videoUrl: str | None = Field(description="A fresh presigned URL of a COMPLETED task's media, else null")
    posterUrl: str | None = Field(
        description="A fresh presigned URL of a COMPLETED video's poster frame (JPEG); null for images, unfinished "
        "tasks, and until the poster is made (a few seconds after completion)"
    )
    startedAt: str | None = Field(description="ISO 8601, UTC: when generation started; null while the task waits")
    finishedAt: str | None = Field(
        description="ISO 8601, UTC: when the task ended, COMPLETED, FAILED or CANCELLED; null while it runs"
    )
    retryOf: str | None = Field(description="The FAILED or CANCELLED task this one retries; null when none")
    remixOf: str | None = Field(description="The COMPLETED video this one remixes; null when none")
    callbackUrl: str | None = Field(
        description="Where this task's events are POSTed (docs/WEBHOOKS.md); null when none"
    )
    callbackEvents: list[str] | None = Field(description="Optional events asked for besides the terminal ones")
    # the per-user queue (docs/API.md, "Queue and priority")
    priority: Priority = Field(description="Where it waits among the owner's queued tasks: high, normal or low")
    queuePosition: int | None = Field(
        ge=1, description="1-based place among the owner's waiting tasks (1: next to start); null unless waiting"
    )


class TaskPage(_Reply):
    """``GET /tasks`` with ``cursor``/``limit``: pass ``nextCursor`` back to get the next page."""

    items: list[Task]
    nextCursor: str | None
    hasMore: bool
    total: int = Field(description="How many of the caller's tasks match the filters")
    limit: int


class NumberedTaskPage(_Reply):
    """``GET /tasks`` with the old clients' ``page``/``pageSize``."""

    items: list[Task]
    nextCursor: str | None = Field(
        description="The cursor of the tasks older than this page (null when there are none): a client can go on "
        "past the 1000-task window of numbered pages with it"
    )
    hasMore: bool
    total: int
    page: int
    pageSize: int
    totalPages: int


class TaskContent(_Reply):
    """Where a COMPLETED task's media can be fetched until ``expiresAt``."""

    videoId: str
    externalVideoId: str | None
    type: TaskType
    contentType: str | None = Field(description="The media's MIME type")
    url: str
    expiresAt: str = Field(description="ISO 8601, UTC")


class TaskDeleted(_Reply):
    """A task removed with its media: nothing of it can be read any more."""

    videoId: str
    externalVideoId: str | None
    deleted: Literal[True]


class TaskCountsByStatus(_Reply):
    QUEUED: int
    PROCESSING: int
    COMPLETED: int
    FAILED: int
    CANCELLED: int


class TaskCountsByType(_Reply):
    VIDEO: int
    IMAGE: int


class TaskStats(_Reply):
    """The caller's task statistics."""

    total: int
    byStatus: TaskCountsByStatus
    queued: int
    processing: int
    completed: int
    failed: int
    cancelled: int
    byType: TaskCountsByType
    active: int = Field(description="Tasks not yet ended")
    successRate: float | None = Field(description="COMPLETED / (COMPLETED + FAILED); null before any ended")
    averageGenerationSeconds: float | None
    last24Hours: int = Field(description="Tasks created in the last 24 hours")
    updatedAt: str | None


class ModelCapabilities(_Reply):
    webhook: bool
    cancel: bool
    remix: bool
    progress: bool


class ModelDescription(_Reply):
    id: str
    provider: str
    type: TaskType
    seconds: list[int]
    sizes: list[str]
    capabilities: ModelCapabilities
    typicalSeconds: int | None
    description: str = Field(description="One line about the model, in the reader's language (Accept-Language)")
    defaultSeconds: int | None = Field(description="The seconds a task gets when it names none; null for images")
    defaultSize: str | None = Field(description="The size a task gets when it names none")
    secondsBySize: dict[str, list[int]] = Field(
        description="Sizes that allow only some of `seconds` (e.g. 1920x1080 at 8 s only); sizes not named allow all"
    )
    examplePrompts: list[str] = Field(description="A few prompts to start from, in the reader's language")


class ModelList(_Reply):
    items: list[ModelDescription]
    default: str = Field(description="The model a VIDEO task gets when it names none")
    defaultImage: str = Field(description="The model an IMAGE task gets when it names none")


class TaskBatch(_Reply):
    """The tasks one ``POST /tasks/batch`` created, in the order of its bodies."""

    items: list[Task]


class UsageLimits(_Reply):
    maxGenerating: int = Field(description="Tasks of the caller that may generate at once; the rest wait QUEUED")
    createsPerMinute: int = Field(description="Tasks the caller may create per UTC minute (fixed windows)")
    videoSecondsPerDay: int = Field(description="Video seconds the caller may ask for per UTC day; images count 0")


class UsageCounts(_Reply):
    createsThisMinute: int
    videoSecondsToday: int = Field(description="Asked for today, less what tasks that never started gave back")
    generating: int = Field(description="The caller's tasks PROCESSING now")
    queued: int = Field(description="The caller's tasks QUEUED now")


class UsageResets(_Reply):
    createsPerMinute: str = Field(description="ISO 8601, UTC: the end of this minute's window")
    videoSecondsPerDay: str = Field(description="ISO 8601, UTC: the next UTC midnight")


class Usage(_Reply):
    """The caller's plan, its limits, what of them is used, and when each window resets."""

    plan: str = Field(description="The plan the token's plan claim names, or the deployment's default plan")
    limits: UsageLimits
    usage: UsageCounts
    resets: UsageResets


class WebhookSecret(_Reply):
    """The caller's outbound webhook signing secret (docs/WEBHOOKS.md)."""

    secret: str = Field(description="whsec_<base64 key>: the HMAC-SHA256 key is the base64-decoded part after whsec_")
    previousSecretExpiresAt: str | None = Field(
        description="ISO 8601, UTC: until then the secret this one replaced signs too (a second v1 signature); "
        "null when none does"
    )


class DeliveryAttempt(_Reply):
    webhookId: str = Field(description="The event's id (webhook-id header): the same on every attempt of one event")
    event: Literal["task.completed", "task.failed", "task.cancelled", "task.progress"]
    attempt: int = Field(ge=1)
    attemptedAt: str = Field(description="ISO 8601, UTC")
    statusCode: int | None = Field(description="The receiver's HTTP status; null when it gave none (see error)")
    error: str | None = Field(
        description="timeout, connection, tls, dns or refused_address when no HTTP answer came; else null"
    )
    latencyMs: int = Field(ge=0)
    outcome: Literal["delivered", "retry", "stop", "dead"] = Field(
        description="delivered (2xx), retry (another attempt follows), stop (a 4xx other than 408/429, or a "
        "non-public address: no more attempts), dead (the retry window is over: dead-lettered)"
    )
    nextRetryAt: str | None = Field(description="ISO 8601, UTC: when the next attempt is due; null when none is")


class TaskDeliveries(_Reply):
    """A task's outbound webhook delivery attempts, oldest first (kept 7 days)."""

    videoId: str
    items: list[DeliveryAttempt]


class Health(_Reply):
    status: Literal["ok"]
    service: str


ErrorCode = Literal[
    "VALIDATION_ERROR",
    "UNAUTHORIZED",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "CONFLICT",
    "RATE_LIMITED",
    "QUOTA_EXCEEDED",
    "INTERNAL",
]


class ErrorBody(_Reply):
    code: ErrorCode
    message: str
    details: Any = Field(None, description="More about the error: the offending fields of a 400, for example")


class ErrorEnvelope(_Reply):
    """Every error reply of the API."""

    success: Literal[False]
    message: str
    error: ErrorBody


def enveloped(data: type[_Reply]) -> type[_Reply]:
    """The success envelope of ``data``: ``{success: true, data}`` plus ``data``'s fields at the top level."""
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{data.__name__}Reply",
        __base__=data,
        __doc__=f"``{{success: true, data: {data.__name__}}}``, with the fields of data repeated at the top level.",
        success=(Literal[True], ...),
        data=(data, ...),
    )


TaskReply = enveloped(Task)
TaskPageReply = enveloped(TaskPage)
NumberedTaskPageReply = enveloped(NumberedTaskPage)
TaskContentReply = enveloped(TaskContent)
TaskStatsReply = enveloped(TaskStats)
TaskDeletedReply = enveloped(TaskDeleted)
ModelListReply = enveloped(ModelList)
HealthReply = enveloped(Health)
TaskBatchReply = enveloped(TaskBatch)
UsageReply = enveloped(Usage)
WebhookSecretReply = enveloped(WebhookSecret)
TaskDeliveriesReply = enveloped(TaskDeliveries)
