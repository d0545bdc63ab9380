"""Outbound webhooks (docs/WEBHOOKS.md): which task changes become events, their ids, and the retry rules.

Pure: the stream function (``services/callbacks.py``) asks ``event_of_change`` what a record means, the
delivery step asks ``outcome_of`` and ``next_delay`` what to do after an attempt.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from videotasks.domain.models import Task, TaskStatus


class CallbackEvent(StrEnum):
    COMPLETED = "task.completed"
    FAILED = "task.failed"
    CANCELLED = "task.cancelled"
    PROGRESS = "task.progress"


TERMINAL_EVENTS = {
    TaskStatus.COMPLETED: CallbackEvent.COMPLETED,
    TaskStatus.FAILED: CallbackEvent.FAILED,
    TaskStatus.CANCELLED: CallbackEvent.CANCELLED,
}
# Events a caller may opt into with callbackEvents; the terminal ones are always sent.
OPTIONAL_EVENTS = frozenset({CallbackEvent.PROGRESS})


def event_of_change(old: Task | None, new: Task | None) -> CallbackEvent | None:
    """The event a change of a task with a callbackUrl makes, if any: its ending (once: the write that moved
    it into a terminal status), or a new progress value while it generates, when the task asked for it."""
    if new is None or not new.callbackUrl or old is None:
        return None
    if new.is_terminal:
        return TERMINAL_EVENTS[new.status] if not old.is_terminal else None
    wants_progress = CallbackEvent.PROGRESS.value in (new.callbackEvents or ())
    if wants_progress and new.status is TaskStatus.PROCESSING and new.progress != old.progress:
        return CallbackEvent.PROGRESS
    return None


def webhook_id(task: Task, event: CallbackEvent) -> str:
    """Stable for one event: a stream record delivered twice makes the same id (and the same execution
    name), and every retry of it carries it, so receivers can deduplicate. A progress event is one per value."""
    marker = str(task.progress) if event is CallbackEvent.PROGRESS else task.status.value
    digest = hashlib.sha256(f"{task.videoId}|{event.value}|{marker}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


Outcome = Literal["delivered", "retry", "stop"]
RETRIED_STATUSES = frozenset({408, 429})


def outcome_of(status_code: int | None) -> Outcome:
    """2xx is delivered; no answer (timeout, connection error), 5xx, 408 and 429 are retried; any other
    4xx (a 410 Gone, say) means the receiver does not want it: we stop. 1xx/3xx (we follow no redirect)
    are retried: a receiver that moved must be given the new URL."""
    if status_code is None or status_code >= 500 or status_code in RETRIED_STATUSES:
        return "retry"
    if 200 <= status_code < 300:
        return "delivered"
    if 400 <= status_code < 500:
        return "stop"
    return "retry"


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: the n-th retry waits base * 2^(n-1) seconds, capped, times a
    random factor in [0.5, 1] (so a receiver that failed for everyone is not hit by every retry at once);
    a Retry-After longer than that is honoured (up to the cap). No attempt starts past ``window_seconds``
    after the first: the event is dead-lettered instead."""

    base_seconds: int = 30
    max_delay_seconds: int = 4 * 3600
    window_seconds: int = 24 * 3600

    def delay(self, retry: int, retry_after: int | None = None, rng: random.Random | None = None) -> int:
        """Seconds to wait before retry number ``retry`` (1 for the first retry); whole seconds, as the
        state machine's Wait takes them."""
        capped = min(self.max_delay_seconds, self.base_seconds * (1 << min(30, max(0, retry - 1))))
        jittered = round(capped * (0.5 + 0.5 * (rng or random).random()))
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.max_delay_seconds))
        return max(1, jittered)

    def next_delay(
        self, retry: int, elapsed_seconds: float, retry_after: int | None = None, rng: random.Random | None = None
    ) -> int | None:
        """The wait before retry ``retry``, or None when it would start past the window (dead letter)."""
        delay = self.delay(retry, retry_after, rng)
        return delay if elapsed_seconds + delay <= self.window_seconds else None


def parse_retry_after(value: str | None) -> int | None:
    """A Retry-After header in seconds (the delta-seconds form; an HTTP date is read as absent)."""
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None
