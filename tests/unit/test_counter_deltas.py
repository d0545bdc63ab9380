"""``change_deltas``: how one write of a task moves its owner's counters (the stream aggregator's rule).

Replaying a task's life through it must leave exactly what a recount of the stored task gives, and a
deleted task must leave nothing at all."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fixtures.tasks import new_task
from videotasks.adapters.store.counters import UserCounters, change_deltas
from videotasks.domain.models import Task, TaskStatus, TaskType

CREATED = "2026-01-01T00:00:00.000Z"


def life(task: Task, *statuses: TaskStatus) -> list[Task]:
    """The task as each write of its life stores it."""
    states = [task]
    for status in statuses:
        update: dict[str, object] = {"status": status}
        if status is TaskStatus.COMPLETED:
            update["completedAt"] = "2026-01-01T00:01:30.400Z"
        states.append(states[-1].model_copy(update=update))
    return states


def replay(states: list[Task | None]) -> Counter[str]:
    """The counters after every write: created from nothing, each state from the one before."""
    total: Counter[str] = Counter()
    for old, new in zip([None, *states], states, strict=False):
        total.update(change_deltas(old, new))
    return total


def test_a_new_task_counts_in_the_totals_its_type_and_its_status() -> None:
    task = new_task(type=TaskType.IMAGE)
    assert change_deltas(None, task) == {"total": 1, "image_total": 1, "queued": 1, "image_queued": 1}


def test_a_status_change_moves_one_status_to_the_other_and_nothing_else() -> None:
    queued = new_task()
    processing = queued.model_copy(update={"status": TaskStatus.PROCESSING})
    assert change_deltas(queued, processing) == {
        "queued": -1,
        "video_queued": -1,
        "processing": 1,
        "video_processing": 1,
    }


def test_completion_adds_its_generation_seconds() -> None:
    processing, completed = life(new_task(createdAt=CREATED, status=TaskStatus.PROCESSING), TaskStatus.COMPLETED)
    deltas = change_deltas(processing, completed)
    assert deltas["generationSecondsSum"] == 90
    assert deltas["completed"] == 1 and deltas["processing"] == -1


@pytest.mark.parametrize("changed", [{"progress": 40}, {"queuePosition": 3}, {"posterKey": "media/a.poster.jpg"}])
def test_a_write_that_keeps_the_status_moves_nothing(changed: dict[str, object]) -> None:
    task = new_task(status=TaskStatus.PROCESSING)
    assert change_deltas(task, task.model_copy(update=changed)) == {}


@pytest.mark.parametrize(
    "statuses",
    [
        (TaskStatus.PROCESSING, TaskStatus.COMPLETED),
        (TaskStatus.PROCESSING, TaskStatus.FAILED),
        (TaskStatus.CANCELLED,),
        (),
    ],
)
def test_a_life_counts_what_a_recount_of_the_stored_task_gives(statuses: tuple[TaskStatus, ...]) -> None:
    states = life(new_task(createdAt=CREATED), *statuses)
    final = states[-1]
    counted = UserCounters.of_stored(replay(list(states)), 0)

    assert counted.total == 1
    assert {status for status, count in counted.by_status.items() if count} == {final.status}
    assert counted.by_type_and_status[final.type, final.status] == 1
    assert counted.generation_seconds == round(final.generation_seconds or 0)


def test_a_deleted_task_leaves_nothing_counted() -> None:
    states: list[Task | None] = [*life(new_task(createdAt=CREATED), TaskStatus.PROCESSING, TaskStatus.COMPLETED)]
    states.append(None)
    assert +replay(states) == Counter() and -replay(states) == Counter()


def test_an_imported_ended_task_counts_as_its_whole_life_would() -> None:
    lived = life(new_task(createdAt=CREATED), TaskStatus.PROCESSING, TaskStatus.COMPLETED)
    assert change_deltas(None, lived[-1]) == {name: n for name, n in replay(list(lived)).items() if n}
