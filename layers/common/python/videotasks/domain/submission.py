"""Submitting a job at most once, though Submit may run more than once.

A create POST that times out may still have made (and billed) the job; Step Functions then retries
Submit. Two defences, both pure rules here:

1. Every create carries ``Idempotency-Key: videotasks-<videoId>``, stable across retries, so a provider
   that honours the header (OpenAI does) answers the retry with the job it already made.
2. For providers that ignore the header, Submit marks the task before creating (``submitStartedAt``);
   a retried Submit that finds the mark lists the provider's recent jobs and adopts the one the lost
   reply would have named, if exactly one job can be that one (``adoptable_job``), before creating again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

IDEMPOTENCY_KEY_PREFIX = "videotasks-"
# Clocks differ between us and the provider; ``created_at`` is in whole seconds, too.
CLOCK_SKEW = timedelta(seconds=60)


def idempotency_key(video_id: str) -> str:
    """The key every create of this task sends: the same on each retry, distinct between tasks."""
    return f"{IDEMPOTENCY_KEY_PREFIX}{video_id}"


@dataclass(frozen=True)
class ListedJob:
    """A job as the provider's list shows it: enough to recognise the one a lost reply would have named."""

    id: str
    created_at: datetime | None
    prompt: str | None
    model: str | None
    seconds: str | None
    size: str | None


@dataclass(frozen=True)
class Wanted:
    """What the earlier create asked for, and the window in which it reached the provider."""

    prompt: str
    model: str
    seconds: int | None
    size: str | None
    since: datetime  # the task's first submit mark
    until: datetime  # now


def matching_jobs(listed: list[ListedJob], wanted: Wanted) -> list[str]:
    """Ids of the listed jobs that may be the one the earlier create made.

    A match carries the same prompt (a listing without prompts proves nothing: a job of the same model
    and size made for another user's task in the same seconds would hand this user someone else's
    video), the same model, seconds and size where the listing shows them, and was created within the
    window.
    """
    return [
        job.id
        for job in listed
        if job.prompt is not None
        and job.prompt.strip() == wanted.prompt.strip()
        and (job.model is None or job.model == wanted.model)
        and (job.seconds is None or wanted.seconds is None or job.seconds == str(wanted.seconds))
        and (job.size is None or wanted.size is None or job.size == wanted.size)
        and job.created_at is not None
        and wanted.since - CLOCK_SKEW <= job.created_at <= wanted.until + CLOCK_SKEW
    ]


def adoptable_job(matching: list[str], claimed: set[str]) -> str | None:
    """The one matching job no other task has claimed (as its ``externalTaskId``), else None: create
    again. Two unclaimed matches are as bad as none: adopting the wrong one is worse than paying twice."""
    unclaimed = [job_id for job_id in matching if job_id not in claimed]
    return unclaimed[0] if len(unclaimed) == 1 else None
