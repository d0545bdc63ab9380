"""The queue keeper's and the counter function's stream filters (template.yaml) let through every change
the function acts on.

The event source mapping drops what no pattern matches before the function runs, so a pattern narrower
than ``videotasks.domain.queue.moves_queue`` would strand waiting tasks in the cloud (a slot never freed).
Both are checked over every pair of statuses, with the filter applied the way the local stack applies it.
"""

from __future__ import annotations

import itertools

import pytest

from local.event_filter import passes
from local.template import load_template, stream_sources
from tests.fixtures.tasks import new_task
from videotasks.adapters.store.counters import change_deltas
from videotasks.domain.lifecycle import can_transition
from videotasks.domain.models import Task, TaskStatus
from videotasks.domain.queue import moves_queue

FILTERS = next(source.filters for source in stream_sources(load_template()) if source.function == "QueueKeeperFunction")
COUNTING = next(source.filters for source in stream_sources(load_template()) if source.function == "CountTasksFunction")
STATES: list[TaskStatus | None] = [None, *TaskStatus]


def task(status: TaskStatus | None) -> Task | None:
    return None if status is None else new_task("alice").model_copy(update={"status": status})


def stream_record(old: TaskStatus | None, new: TaskStatus | None) -> dict[str, object]:
    images = {name: {"status": {"S": str(status)}} for name, status in (("OldImage", old), ("NewImage", new)) if status}
    event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": event, "dynamodb": images}


def test_the_queue_keeper_is_filtered() -> None:
    assert FILTERS, "the queue keeper would be invoked for every progress write of every task"


@pytest.mark.parametrize(("old", "new"), [pair for pair in itertools.product(STATES, STATES) if pair != (None, None)])
def test_every_change_that_moves_the_queue_reaches_the_keeper(old: TaskStatus | None, new: TaskStatus | None) -> None:
    delivered = passes(FILTERS, stream_record(old, new))
    if moves_queue(task(old), task(new)):
        assert delivered, f"{old} -> {new} moves the queue but the filter drops it"
    elif delivered:
        # The one superset the template accepts: every INSERT (a new task that is not QUEUED is ignored in code).
        assert old is None, f"{old} -> {new} reaches the keeper for nothing"


def test_the_counter_function_is_filtered() -> None:
    assert COUNTING, "the counter function would be invoked for every progress write of every task"


# Only the writes there are: every status write is conditional on a legal move, so an ended task never moves.
WRITTEN = [
    (old, new)
    for old, new in itertools.product(STATES, STATES)
    if (old, new) != (None, None) and (old is None or new is None or old == new or can_transition(old, new))
]


@pytest.mark.parametrize(("old", "new"), WRITTEN)
def test_every_change_that_moves_a_counter_reaches_the_counter_function(
    old: TaskStatus | None, new: TaskStatus | None
) -> None:
    delivered = passes(COUNTING, stream_record(old, new))
    if change_deltas(task(old), task(new)):
        assert delivered, f"{old} -> {new} moves the counters but the filter drops it"
    else:
        assert not delivered, f"{old} -> {new} reaches the counter function for nothing"
