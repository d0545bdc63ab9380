"""The fair per-user queue, as pure rules: priorities, the order of waiting tasks, and which task changes
move a user's queue. The store (``videotasks.adapters.store.queue``) and the service
(``videotasks.services.queue``) apply them; docs/ARCHITECTURE.md ("The queue") tells the whole design.

A user's waiting tasks are ordered by priority (high, normal, low), then by age (``createdAt``, then
``videoId``); a task is admitted to the provider only when it is among the first of that order and one of
the user's N slots (their plan's ``maxGenerating``) is free. ``queuePosition`` is 1-based: the head of the
queue is 1.
"""

from __future__ import annotations

import math
from datetime import datetime

from videotasks.domain.lifecycle import task_deadline
from videotasks.domain.models import Priority, Task, TaskStatus, parse_iso

# The rank sorts the queue's keys: a lower rank is served first.
_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
ENTRY_PREFIX = "Q#"
SLOTS_KEY = "SLOTS"
# A queued task checks the queue again at least this often (the net under a lost wake-up), and never sleeps
# past its deadline.
RECHECK_SECONDS = 120
# The waiting tasks of one user whose queuePosition is kept current on every move of the queue: the writes
# of one move are bounded by it. A task further back learns its position as the queue moves up to it.
POSITION_WINDOW = 100


def entry_key(task: Task) -> str:
    """The sort key of ``task``'s queue entry: priority rank, then age, then id, so a Query reads the queue
    in order (ISO 8601 times with milliseconds sort as text)."""
    return f"{ENTRY_PREFIX}{_RANK[task.priority]}#{task.createdAt}#{task.videoId}"


def wait_seconds(task: Task, *, now: datetime, timeout_seconds: int) -> int:
    """How long the next wait for a slot lasts: until the next safety check, never past the deadline."""
    left = (task_deadline_of(task, timeout_seconds) - now).total_seconds()
    return max(1, min(RECHECK_SECONDS, math.ceil(left)))


def task_deadline_of(task: Task, timeout_seconds: int) -> datetime:
    """A queued task's deadline is its task's: time spent waiting counts toward ``TASK_TIMEOUT_SECONDS``."""
    return task_deadline(parse_iso(task.createdAt), timeout_seconds)


def moves_queue(old: Task | None, new: Task | None) -> bool:
    """Whether a write (stream images) changes who waits or who holds a slot: a new task, a task that left
    QUEUED (admitted, failed or cancelled while waiting), a running task that ended. Position updates of a
    waiting task (QUEUED to QUEUED) are not: the queue keeper's own writes must not wake it again."""
    if new is None:
        return False
    if old is None:
        return new.status is TaskStatus.QUEUED
    if old.status is TaskStatus.QUEUED:
        return new.status is not TaskStatus.QUEUED
    return not old.is_terminal and new.is_terminal
