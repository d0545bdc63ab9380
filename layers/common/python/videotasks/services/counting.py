"""The tasks table's stream → the owners' counters (``functions/count_tasks``): every created, moved and
deleted task moves its owner's ``TOTALS`` off the request path, so no two tasks' writes share an item.

Lambda delivers a stream record at least once; ``CountersTable.count_change`` counts each record once
(its id is remembered with the ADDs, in one transaction). Records are applied strictly in order: at the
first one that cannot be applied now, it and every later one are reported as failed, and Lambda starts the
next attempt there (the ones before it are done and will not be seen again, or only as duplicates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger

from videotasks.adapters.store.counters import CountersTable, change_deltas
from videotasks.adapters.tracing import tracer
from videotasks.domain.models import Task, utc_now

logger = Logger(child=True)


@dataclass(frozen=True)
class TaskChange:
    """One stream record of the tasks table: its ids and the task before and after the write."""

    event_id: str
    sequence_number: str
    old: Task | None
    new: Task | None


class TaskCounting:
    def __init__(self, counters: CountersTable, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._counters = counters
        self._clock = clock

    @tracer.capture_method(capture_response=False)
    def on_changes(self, changes: Sequence[TaskChange]) -> list[str]:
        """Count ``changes`` in order; the sequence numbers of those left for the next attempt (the first
        that failed and every later one), empty when all are counted."""
        for index, change in enumerate(changes):
            try:
                self._count(change)
            except Exception:  # any failure: the record and its successors wait for Lambda's retry, in order
                logger.exception(
                    "could not count a task change; it is retried", extra={"sequenceNumber": change.sequence_number}
                )
                return [later.sequence_number for later in changes[index:]]
        return []

    def _count(self, change: TaskChange) -> None:
        task = change.new or change.old
        if task is None:
            return
        deltas = change_deltas(change.old, change.new)
        if not deltas:  # a write that moves no counter (the mapping's filter lets few of them through)
            return
        counted = self._counters.count_change(task.userId, task.videoId, change.event_id, deltas, now=self._clock())
        if not counted:
            logger.info("stream record counted already", extra={"videoId": task.videoId})
