"""Admission: what creating tasks costs a user against their plan's rate limit and daily quota.

Two counters per user, each in a window of its own, both written in the create's own transaction
(``videotasks.adapters.store.usage``) so that a refused create writes nothing and concurrent creates can
never together pass a limit:

* **creates per minute**: fixed windows of one UTC minute (``12:00:00``-``12:00:59.999``), not a sliding
  one: a client may send a minute's allowance at the end of one window and another at the start of the
  next. Cheap (one item per user and minute) and exact under concurrency.
* **video seconds per UTC day**: the seconds the tasks *ask for* when they are created (an IMAGE task asks
  for none and counts 0), so a create is refused before any provider is paid. A task that ends FAILED or
  CANCELLED before its provider ever accepted a job gives its seconds back (in the same conditional write
  that ends it, so a retried or raced ending gives back once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from videotasks.domain.errors import QuotaExceededError, RateLimitedError
from videotasks.domain.models import Task, TaskType, iso, parse_iso
from videotasks.domain.plans import Limits

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def minute_window(moment: datetime) -> tuple[str, datetime]:
    """The creates-per-minute window ``moment`` falls in: its id (``YYYYMMDDHHMM``, UTC) and when it ends."""
    start = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return f"{start:%Y%m%d%H%M}", start + MINUTE


def day_window(moment: datetime) -> tuple[str, datetime]:
    """The video-seconds window (the UTC day) ``moment`` falls in: its id (``YYYYMMDD``) and when it ends."""
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{start:%Y%m%d}", start + DAY


def video_seconds(task: Task) -> int:
    """What a task costs against the daily quota: the seconds it asks for; an image costs nothing."""
    return task.seconds or 0 if task.type is TaskType.VIDEO else 0


def refundable(task: Task) -> bool:
    """Whether a task ending now (FAILED or CANCELLED) gives its seconds back: only when no provider ever
    accepted a job for it, so nothing of it can have been paid for."""
    return video_seconds(task) > 0 and task.externalTaskId is None


def refund_day(task: Task) -> str:
    """The day whose quota a task was counted in: the day it was created."""
    return day_window(parse_iso(task.createdAt))[0]


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``moment``, at least 1: a ``Retry-After`` of 0 invites a busy loop."""
    return max(1, int(-(-(moment - now).total_seconds() // 1)))


@dataclass(frozen=True)
class Charge:
    """What one create (of one task or of a batch) asks of its user's limits, at the moment it is made."""

    user_id: str
    limits: Limits
    creates: int
    video_seconds: int
    at: datetime

    @classmethod
    def of(cls, tasks: Sequence[Task], limits: Limits, at: datetime) -> Charge:
        owners = {task.userId for task in tasks}
        if len(owners) != 1:
            raise ValueError("one charge covers the tasks of one user")
        return cls(owners.pop(), limits, len(tasks), sum(video_seconds(task) for task in tasks), at)

    @property
    def minute(self) -> tuple[str, datetime]:
        return minute_window(self.at)

    @property
    def day(self) -> tuple[str, datetime]:
        return day_window(self.at)

    def rate_limited(self) -> RateLimitedError:
        """The 429 for a create that would pass the creates-per-minute limit."""
        _, resets = self.minute
        error = RateLimitedError(
            key="rate_limited",
            params={"limit": self.limits.creates_per_minute, "resetsAt": iso(resets)},
            details=[
                {
                    "field": "createsPerMinute",
                    "message": "limit reached",
                    "limit": self.limits.creates_per_minute,
                    "resetsAt": iso(resets),
                }
            ],
        )
        error.retry_after_seconds = seconds_until(resets, self.at)
        return error

    def quota_exceeded(self) -> QuotaExceededError:
        """The 429 for a create whose video seconds would pass the daily quota."""
        _, resets = self.day
        error = QuotaExceededError(
            key="quota_exceeded",
            params={
                "limit": self.limits.video_seconds_per_day,
                "requested": self.video_seconds,
                "resetsAt": iso(resets),
            },
            details=[
                {
                    "field": "videoSecondsPerDay",
                    "message": "quota reached",
                    "limit": self.limits.video_seconds_per_day,
                    "requested": self.video_seconds,
                    "resetsAt": iso(resets),
                }
            ],
        )
        error.retry_after_seconds = seconds_until(resets, self.at)
        return error

    def refuse_beyond_limits(self) -> None:
        """Refuse at once what no window could ever hold (more creates or seconds than the whole limit): the
        conditional writes only compare against what is already counted."""
        if self.creates > self.limits.creates_per_minute:
            raise self.rate_limited()
        if self.video_seconds > self.limits.video_seconds_per_day:
            raise self.quota_exceeded()
