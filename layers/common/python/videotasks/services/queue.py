"""The fair per-user queue: admission (the state machine's ``PlanAdmission`` and ``Admit`` states) and the
queue keeper (the tasks table's stream), see docs/ARCHITECTURE.md ("The queue").

Admission never trusts a wake-up: being woken only means "look again". An execution parks its task token on
its queue entry *before* it reads the slots and the queue; the keeper frees a slot *before* it reads them
and wakes whoever parked. So either the admission reads the freed slot, or the keeper reads the parked
token: no wake-up is lost, and the recheck timeout is only the net under a failed stream batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from videotasks.adapters.executions import Waker
from videotasks.adapters.store.queue import QueueStore
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Task, TaskStatus
from videotasks.domain.plans import plan_for
from videotasks.domain.queue import POSITION_WINDOW, moves_queue, task_deadline_of, wait_seconds
from videotasks.settings import Settings

logger = Logger(child=True)


# The state machine matches these class names (``ErrorEquals``): keep them.
class SlotGrantedError(Exception):
    """The task holds a slot: go on to Submit (how an admission ends its own callback wait)."""


class TaskNotQueuedError(Exception):
    """The task is no longer waiting (cancelled, failed, gone): the execution ends."""


class QueueTimeoutError(Exception):
    """The task waited in the queue until its deadline; MarkFailed reads the code from the message."""


class QueueService:
    def __init__(
        self,
        settings: Settings,
        repository: TaskRepository,
        store: QueueStore,
        waker: Waker,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._store = store
        self._waker = waker
        self._clock = clock

    def _limit(self, task: Task) -> int:
        return plan_for(self._settings, task.plan).limits.max_generating

    def _queued(self, video_id: str) -> Task:
        task = self._repository.get(video_id)
        if task is None or task.status is not TaskStatus.QUEUED:
            raise TaskNotQueuedError(f"Task {video_id} is not waiting ({task.status.value if task else 'gone'})")
        return task

    # admission -----------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def plan(self, video_id: str) -> int:
        """Seconds the next wait for a slot may last; raises when the task stopped waiting or its deadline
        has come."""
        task = self._queued(video_id)
        now = datetime.fromtimestamp(self._clock(), UTC)
        timeout = self._settings.task_timeout_seconds
        if now >= task_deadline_of(task, timeout):
            raise QueueTimeoutError(f"QUEUE_TIMEOUT: The task waited in the queue for {timeout} seconds")
        return wait_seconds(task, now=now, timeout_seconds=timeout)

    @tracer.capture_method(capture_response=False)
    def admit(self, video_id: str, token: str) -> None:
        """Take a slot when the task is at the head of its owner's queue and one is free (raising
        ``SlotGrantedError``); otherwise return, leaving the token for the keeper to wake."""
        task = self._queued(video_id)
        if not self._store.park(task, token):
            self._store.restore(task)
            self._store.park(task, token)
        running = self._store.running(task.userId)
        if video_id in running:  # admitted before (a retried state, or woken while admitting)
            raise SlotGrantedError(video_id)
        limit = self._limit(task)
        free = limit - len(running)
        if free <= 0:
            return
        ahead = [waiting.video_id for waiting in self._store.waiting(task.userId, free)]
        if video_id not in ahead:
            return
        try:
            self._store.take_slot(task, limit)
        except StaleWriteError:
            self._queued(video_id)  # raises when it was cancelled meanwhile
            return  # the slots filled meanwhile: the next release wakes it
        logger.info("admitted", extra={"running": len(running) + 1, "limit": limit})
        raise SlotGrantedError(video_id)

    # the keeper ----------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def on_changes(self, changes: Iterable[tuple[Task | None, Task | None]]) -> None:
        """Apply a batch of task writes (stream images): free the slots of tasks that ended, then, once per
        user whose queue moved, wake who may now be admitted and renumber the waiting."""
        moved: dict[str, Task] = {}
        for old, new in changes:
            if new is None or not moves_queue(old, new):
                continue
            if new.is_terminal:
                self._store.release(new)
            moved[new.userId] = new
        for task in moved.values():
            self.advance(task.userId, self._limit(task))

    def advance(self, user_id: str, limit: int) -> None:
        running = self._store.running(user_id)
        waiting = self._store.waiting(user_id, POSITION_WINDOW)
        for entry in waiting[: max(0, limit - len(running))]:
            if entry.token:
                self._wake(entry.token)
        for position, entry in enumerate(waiting, start=1):  # queuePosition is 1-based
            if entry.position != position:
                self._store.set_position(user_id, entry, position)

    def _wake(self, token: str) -> None:
        try:
            self._waker.wake(token)
        except ClientError as exc:  # the recheck timeout wakes it anyway; one bad token must not stop the rest
            logger.warning("could not wake a queued task", extra={"reason": exc.response["Error"]["Code"]})
