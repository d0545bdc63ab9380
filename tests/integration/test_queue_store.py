"""The queue table on moto: the entry written with the task, slots taken atomically under the limit, and a
release that is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fixtures.aws import shared_dynamodb
from videotasks.adapters.store.queue import QueueStore
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError, TaskStoreBusyError
from videotasks.domain.models import Priority, Task, TaskStatus

StoredTask = Callable[..., Task]


@pytest.fixture
def queue(aws_stack: Any) -> QueueStore:
    return QueueStore(aws_stack.settings, dynamodb=shared_dynamodb(), pause=lambda _: None)


def test_a_created_task_is_in_its_owners_queue_in_priority_order(queue: QueueStore, stored_task: StoredTask) -> None:
    low = stored_task(priority=Priority.LOW)
    normal = stored_task()
    high = stored_task(priority=Priority.HIGH)
    stored_task("bob")

    assert [waiting.video_id for waiting in queue.waiting("alice", 10)] == [high.videoId, normal.videoId, low.videoId]
    assert [waiting.video_id for waiting in queue.waiting("alice", 2)] == [high.videoId, normal.videoId]


def test_concurrent_admissions_never_take_more_slots_than_the_limit(
    queue: QueueStore, stored_task: StoredTask, strict_moto: Any
) -> None:
    tasks = [stored_task() for _ in range(12)]

    def take(task: Task) -> bool:
        for _ in range(20):
            try:
                queue.take_slot(task, 3)
                return True
            except StaleWriteError:
                return False
            except TaskStoreBusyError:
                continue
        return False

    with ThreadPoolExecutor(12) as pool:
        taken = list(pool.map(take, tasks))

    assert sum(taken) == 3
    assert queue.running("alice") == {task.videoId for task, won in zip(tasks, taken, strict=True) if won}
    assert len(queue.waiting("alice", 20)) == 9  # the admitted left the queue, the others still wait


def test_a_slot_is_taken_again_by_its_holder_but_never_by_a_task_that_left_queued(
    queue: QueueStore, repository: TaskRepository, stored_task: StoredTask
) -> None:
    first, cancelled = stored_task(), stored_task()
    queue.take_slot(first, 1)
    queue.take_slot(first, 1)  # a retried admission: nothing more is taken
    assert queue.running("alice") == {first.videoId}

    repository.transition(cancelled, TaskStatus.CANCELLED)
    queue.release(first)
    queue.release(first)  # the stream delivers at least once
    with pytest.raises(StaleWriteError):
        queue.take_slot(cancelled, 1)
    assert queue.running("alice") == set()


def test_positions_are_written_only_on_waiting_tasks(
    queue: QueueStore, repository: TaskRepository, stored_task: StoredTask
) -> None:
    waiting, started = stored_task(), stored_task(status=TaskStatus.PROCESSING)
    [entry] = [item for item in queue.waiting("alice", 10) if item.video_id == waiting.videoId]

    assert queue.set_position("alice", entry, 1)
    assert repository.get(waiting.videoId).queuePosition == 1  # type: ignore[union-attr]
    assert queue.waiting("alice", 10)[0].position == 1
    [other] = [item for item in queue.waiting("alice", 10) if item.video_id == started.videoId]
    assert not queue.set_position("alice", other, 2)
