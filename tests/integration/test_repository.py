"""The repository on moto: conditional writes and the counters that move with them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType, iso, parse_iso, utc_now

StoredTask = Callable[..., Task]


def counters(aws_stack: Any, user: str = "alice") -> dict[str, int]:
    return {key: value for key, value in aws_stack.counters(user).items() if value}


def test_creating_a_task_stores_it_and_counts_it_queued(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    task = stored_task()

    assert repository.get(task.videoId) == task
    assert counters(aws_stack) == {"total": 1, "video_total": 1, "queued": 1, "video_queued": 1}


def test_creating_the_same_video_id_twice_is_refused_and_counted_once(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    task = stored_task()

    with pytest.raises(StaleWriteError):
        repository.create(task.model_copy(update={"prompt": "another"}))
    assert repository.get(task.videoId) == task
    assert counters(aws_stack)["total"] == 1


def test_a_transition_moves_the_counters_in_the_same_write(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    task = stored_task()

    moved = repository.transition(task, TaskStatus.PROCESSING, externalTaskId="ext_1")

    assert moved.status is TaskStatus.PROCESSING
    assert repository.get(task.videoId) == moved
    assert counters(aws_stack) == {"total": 1, "video_total": 1, "processing": 1, "video_processing": 1}


def test_a_transition_from_a_stale_read_is_refused_and_changes_nothing(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    stale = stored_task()
    current = repository.transition(stale, TaskStatus.PROCESSING)
    before = counters(aws_stack)

    with pytest.raises(StaleWriteError):
        repository.transition(stale, TaskStatus.CANCELLED)  # written as if it were still QUEUED

    assert repository.get(stale.videoId) == current
    assert counters(aws_stack) == before


def test_a_terminal_task_cannot_be_resurrected_by_a_raced_write(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    processing = stored_task(status=TaskStatus.PROCESSING)
    cancelled = repository.transition(processing, TaskStatus.CANCELLED)
    before = counters(aws_stack)

    with pytest.raises(StaleWriteError):
        repository.transition(processing, TaskStatus.COMPLETED, progress=100)  # the archive step, too late

    assert repository.get(processing.videoId) == cancelled
    assert counters(aws_stack) == before


@pytest.mark.parametrize("terminal", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_terminal_task_refuses_every_transition_even_when_read_fresh(
    repository: TaskRepository, stored_task: StoredTask, terminal: TaskStatus
) -> None:
    task = stored_task(status=terminal)

    with pytest.raises((StaleWriteError, ValueError)):
        repository.transition(task, TaskStatus.PROCESSING)
    assert repository.get(task.videoId).status is terminal  # type: ignore[union-attr]


def test_completing_sets_completed_at_and_sums_the_generation_time(
    repository: TaskRepository, aws_stack: Any, stored_task: StoredTask
) -> None:
    created = utc_now() - timedelta(seconds=90)
    task = stored_task(status=TaskStatus.PROCESSING, createdAt=iso(created), updatedAt=iso(created))

    done = repository.transition(task, TaskStatus.COMPLETED, progress=100)

    stored = repository.get(task.videoId)
    assert stored is not None
    assert stored.completedAt == done.completedAt
    assert stored.completedAt is not None
    assert parse_iso(stored.completedAt) >= created + timedelta(seconds=90)
    assert 90 <= aws_stack.counters("alice")["generationSecondsSum"] <= 120


def test_failing_stores_the_error_object(repository: TaskRepository, stored_task: StoredTask) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)

    repository.transition(task, TaskStatus.FAILED, error=TaskError(code="TIMEOUT", message="too slow"))

    stored = repository.get(task.videoId)
    assert stored is not None
    assert stored.error == TaskError(code="TIMEOUT", message="too slow")
    assert stored.completedAt is None


def test_counters_are_kept_per_type(repository: TaskRepository, aws_stack: Any, stored_task: StoredTask) -> None:
    stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, status=TaskStatus.COMPLETED)
    stored_task(status=TaskStatus.FAILED)

    assert {name: value for name, value in counters(aws_stack).items() if name != "generationSecondsSum"} == {
        "total": 2,
        "video_total": 1,
        "image_total": 1,
        "completed": 1,
        "image_completed": 1,
        "failed": 1,
        "video_failed": 1,
    }


# -- progress writes ---------------------------------------------------------------------------------


def test_progress_updates_of_a_running_task_are_written(repository: TaskRepository, stored_task: StoredTask) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)

    repository.update_running(task, progress=30, pollAttempts=1, providerStatus="in_progress")

    stored = repository.get(task.videoId)
    assert stored is not None
    assert (stored.progress, stored.pollAttempts, stored.providerStatus) == (30, 1, "in_progress")


def test_a_progress_write_lower_than_the_stored_progress_is_refused(
    repository: TaskRepository, stored_task: StoredTask
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    repository.update_running(task, progress=60)

    with pytest.raises(StaleWriteError):
        repository.update_running(task, progress=40)  # a delayed poll with an older reading
    assert repository.get(task.videoId).progress == 60  # type: ignore[union-attr]


def test_the_same_progress_may_be_written_again(repository: TaskRepository, stored_task: StoredTask) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    repository.update_running(task, progress=60)

    repository.update_running(task, progress=60, pollAttempts=2)

    assert repository.get(task.videoId).pollAttempts == 2  # type: ignore[union-attr]


def test_a_progress_write_to_a_task_that_left_its_status_is_refused(
    repository: TaskRepository, stored_task: StoredTask
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    repository.transition(task, TaskStatus.CANCELLED)

    with pytest.raises(StaleWriteError):
        repository.update_running(task, progress=90)
    assert repository.get(task.videoId).status is TaskStatus.CANCELLED  # type: ignore[union-attr]


# -- reads ------------------------------------------------------------------------------------------


def test_another_users_task_is_indistinguishable_from_none(repository: TaskRepository, stored_task: StoredTask) -> None:
    task = stored_task("alice")

    assert repository.get_owned(task.videoId, "alice") == task
    assert repository.get_owned(task.videoId, "mallory") is None
    assert repository.get_owned("video_00000000-0000-4000-8000-000000000000", "alice") is None


def test_listing_returns_the_callers_tasks_newest_first_in_pages(
    repository: TaskRepository, stored_task: StoredTask
) -> None:
    start = utc_now() - timedelta(minutes=10)
    made = [stored_task("alice", createdAt=iso(start + timedelta(seconds=n)), updatedAt=iso(start)) for n in range(5)]
    stored_task("bob")

    first = repository.list_owned("alice", limit=3)
    rest = repository.list_owned("alice", limit=3, start=first.position)

    assert [task.videoId for task in first.items + rest.items] == [task.videoId for task in reversed(made)]
    assert first.position is not None
    assert rest.position is None


def test_listing_filters_by_status_and_type(repository: TaskRepository, stored_task: StoredTask) -> None:
    failed = stored_task(status=TaskStatus.FAILED)
    stored_task(status=TaskStatus.PROCESSING)
    image = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None)

    assert [t.videoId for t in repository.list_owned("alice", limit=10, status=TaskStatus.FAILED).items] == [
        failed.videoId
    ]
    assert [t.videoId for t in repository.list_owned("alice", limit=10, task_type=TaskType.IMAGE).items] == [
        image.videoId
    ]


def test_tasks_created_in_the_last_24_hours_are_counted(repository: TaskRepository, stored_task: StoredTask) -> None:
    now = utc_now()
    stored_task(createdAt=iso(now - timedelta(hours=1)), updatedAt=iso(now))
    stored_task(createdAt=iso(now - timedelta(hours=30)), updatedAt=iso(now))

    _, last_day = repository.get_counters("alice", now)

    assert last_day == 1
