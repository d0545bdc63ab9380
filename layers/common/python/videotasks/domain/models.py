"""The task model: what is stored in DynamoDB (``videotasks.domain.wire`` shapes what clients see)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class TaskStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskType(StrEnum):
    VIDEO = "VIDEO"
    IMAGE = "IMAGE"


class Priority(StrEnum):
    """Where a task waits in its owner's queue (videotasks.domain.queue): high before normal before low."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# A task in one of these has ended: it never changes again (videotasks.domain.lifecycle).
TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskError(BaseModel):
    code: str
    message: str
    # What the provider itself said, for a person to look at; never needed to act (videotasks.domain.failures).
    details: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _without_empty_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Errors without details keep the shape clients have always read: {code, message}.
        dumped: dict[str, Any] = handler(self)
        if dumped.get("details") is None:
            dumped.pop("details", None)
        return dumped


class Task(BaseModel):
    """One generation task. Attribute names are the DynamoDB attribute names."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)

    videoId: str
    userId: str
    type: TaskType = TaskType.VIDEO
    status: TaskStatus = TaskStatus.QUEUED
    progress: int = 0
    prompt: str
    model: str
    seconds: int | None = None
    size: str | None = None
    inputReference: str | None = None
    clientRequestId: str | None = None
    externalTaskId: str | None = None
    providerStatus: str | None = None
    error: TaskError | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    createdAt: str
    updatedAt: str
    completedAt: str | None = None
    # When it ended, whichever way (COMPLETED, FAILED, CANCELLED); tasks ended before it was written have none.
    finishedAt: str | None = None
    # Lineage (videotasks.domain.lineage): the task this one retries, or the finished video it remixes.
    retryOf: str | None = None
    remixOf: str | None = None
    # Outbound webhooks (videotasks.domain.callbacks): where its events are POSTed, and the optional events
    # it asked for (the terminal ones are always sent).
    callbackUrl: str | None = None
    callbackEvents: list[str] | None = None
    # internal
    # The catalog's provider entry and the provider's name of the model, fixed at creation: a running job
    # is polled where it was made even if the catalog moves the model since.
    provider: str | None = None
    providerModel: str | None = None
    executionArn: str | None = None
    mediaKey: str | None = None
    mediaContentType: str | None = None
    posterKey: str | None = None  # a COMPLETED video's poster frame, beside its media (videotasks.domain.posters)
    pollAttempts: int = 0
    submitStartedAt: str | None = None  # when Submit first asked the provider: a job may exist from then on
    submitAttempts: int = 0
    # A remix's source job at the provider: Submit asks the provider to remix it instead of generating anew.
    remixSource: str | None = None
    priority: Priority = Priority.NORMAL
    # 1-based place among the owner's waiting tasks, kept current by the queue keeper; shown only while QUEUED.
    queuePosition: int | None = None
    plan: str | None = None  # the owner's plan when it was created (videotasks.domain.plans): its limits apply

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def generation_seconds(self) -> float | None:
        """Creation to completion, once COMPLETED."""
        if not self.completedAt:
            return None
        return max(0.0, (parse_iso(self.completedAt) - parse_iso(self.createdAt)).total_seconds())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``: sorts lexicographically, as the ByUser index needs."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
