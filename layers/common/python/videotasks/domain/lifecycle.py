"""Pure status rules: transitions, progress, provider status normalisation and the polling policy.

No I/O here; the workflow and the repository apply what these functions decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from videotasks.domain.models import TERMINAL_STATUSES, TaskStatus

ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.PROCESSING, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

# The old backend's lowercase wire form, used in WebSocket payloads (docs/LEGACY_CONTRACT.md).
WIRE_STATUS: dict[TaskStatus, str] = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.PROCESSING: "in_progress",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def sources_of(target: TaskStatus) -> tuple[TaskStatus, ...]:
    """Every status a task may be in for a write to ``target`` to be legal (the write's condition)."""
    return tuple(status for status, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def is_terminal(status: TaskStatus) -> bool:
    return status in TERMINAL_STATUSES


def merge_progress(current: int, reported: int | None) -> int:
    """Progress never goes down and stays within 0..100."""
    if reported is None:
        return current
    return max(current, min(100, max(0, int(reported))))


class ProviderState(StrEnum):
    """The closed set every provider status is normalised into."""

    QUEUED = "queued"
    RUNNING = "in_progress"
    SUCCEEDED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_PROVIDER_STATUS_MAP: dict[str, ProviderState] = {
    "queued": ProviderState.QUEUED,
    "pending": ProviderState.QUEUED,
    "not_start": ProviderState.QUEUED,
    "not_started": ProviderState.QUEUED,
    "submitted": ProviderState.QUEUED,
    "waiting": ProviderState.QUEUED,
    "in_progress": ProviderState.RUNNING,
    "processing": ProviderState.RUNNING,
    "running": ProviderState.RUNNING,
    "generating": ProviderState.RUNNING,
    "started": ProviderState.RUNNING,
    "completed": ProviderState.SUCCEEDED,
    "succeeded": ProviderState.SUCCEEDED,
    "success": ProviderState.SUCCEEDED,
    "done": ProviderState.SUCCEEDED,
    "failed": ProviderState.FAILED,
    "failure": ProviderState.FAILED,
    "error": ProviderState.FAILED,
    "expired": ProviderState.FAILED,
    "rejected": ProviderState.FAILED,
    "cancelled": ProviderState.CANCELLED,
    "canceled": ProviderState.CANCELLED,
}


def normalise_provider_status(raw: str | None) -> ProviderState:
    """Map a provider's status word to our closed set. Unknown words count as still running:
    the polling policy's attempt and time limits end such a task, so nothing waits forever."""
    if not raw:
        return ProviderState.RUNNING
    return _PROVIDER_STATUS_MAP.get(raw.strip().lower().replace("-", "_"), ProviderState.RUNNING)


class PollAction(StrEnum):
    WAIT = "WAIT"
    ARCHIVE = "ARCHIVE"
    FAIL = "FAIL"


@dataclass(frozen=True)
class PollDecision:
    action: PollAction
    error_code: str | None = None
    error_message: str | None = None


def decide_after_poll(
    state: ProviderState,
    *,
    attempts: int,
    max_attempts: int,
    created_at: datetime,
    now: datetime,
    timeout_seconds: int,
    provider_error: str | None = None,
) -> PollDecision:
    """What the workflow does after the ``attempts``-th poll of a job reported ``state``."""
    if state is ProviderState.SUCCEEDED:
        return PollDecision(PollAction.ARCHIVE)
    if state is ProviderState.FAILED:
        return PollDecision(
            PollAction.FAIL, "PROVIDER_FAILED", provider_error or "The provider reported the job as failed"
        )
    if state is ProviderState.CANCELLED:
        return PollDecision(PollAction.FAIL, "PROVIDER_CANCELLED", provider_error or "The provider cancelled the job")
    if attempts >= max_attempts:
        return PollDecision(PollAction.FAIL, "TIMEOUT", f"The provider did not finish within {max_attempts} polls")
    if (now - created_at).total_seconds() >= timeout_seconds:
        return PollDecision(PollAction.FAIL, "TIMEOUT", f"The task did not finish within {timeout_seconds} seconds")
    return PollDecision(PollAction.WAIT)


# Archiving starts only once a poll saw the job finished, at the latest right at the task's deadline; copying
# the media then gets this long past it: two full archive invocations (Lambda timeout 300 s each), so one
# transient failure and its retry fit. After that the task ends FAILED with TIMEOUT instead of retrying on.
ARCHIVE_GRACE_SECONDS = 600


def task_deadline(created_at: datetime, timeout_seconds: int) -> datetime:
    return created_at + timedelta(seconds=timeout_seconds)


def archive_deadline(created_at: datetime, timeout_seconds: int) -> datetime:
    """The moment by which the finished media must be stored, or the task ends FAILED with TIMEOUT."""
    return task_deadline(created_at, timeout_seconds) + timedelta(seconds=ARCHIVE_GRACE_SECONDS)


def next_wait_seconds(interval_seconds: int, *, created_at: datetime, now: datetime, timeout_seconds: int) -> int:
    """Seconds until the next poll: the poll interval, but never sleeping far past the task's deadline, so
    the last poll (which ends the task with TIMEOUT) comes on time and the execution's length stays bounded
    by the task timeout whatever the interval. At least 1 s: Step Functions' Wait needs a positive number."""
    left = (task_deadline(created_at, timeout_seconds) - now).total_seconds()
    return max(1, min(interval_seconds, math.ceil(left)))
