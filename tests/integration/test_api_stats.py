"""GET /api/video/stats: the caller's counters, kept by every status change in the same transaction,
equal to a recount of the tasks whatever mix of transitions (and lost races) produced them, and read
in O(1) items whatever the history."""

from __future__ import annotations

import random

import pytest

from tests.integration.api_harness import OTHER_USER, Api, Steps, recount
from videotasks.domain.models import TaskStatus

pytest_plugins = ["tests.integration.api_fixtures"]

STATUSES = ["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]


def _as_recount(stats: dict) -> dict:
    return {"total": stats["total"], "byStatus": stats["byStatus"], "byType": stats["byType"]}


def test_stats_of_a_user_without_tasks_are_zero(api: Api):
    reply = api.stats()

    assert reply.status == 200, reply.body
    stats = reply.data
    assert stats["total"] == 0
    assert stats["byStatus"] == dict.fromkeys(STATUSES, 0)
    assert all(stats[status.lower()] == 0 for status in STATUSES)
    assert (stats["active"], stats["successRate"], stats["averageGenerationSeconds"]) == (0, None, None)
    assert stats["last24Hours"] == 0


def test_stats_after_a_few_tasks_complete_fail_and_are_cancelled(api: Api, steps: Steps, aws_stack):
    videos = [api.create_id() for _ in range(4)]
    images = [api.create_id(type="IMAGE") for _ in range(2)]
    steps.complete(videos[0])
    steps.complete(videos[1])
    steps.fail(videos[2])
    steps.submit(videos[3])
    api.cancel(videos[3])
    steps.submit(images[0])  # an image completes in its submit step; images[1] stays queued
    api.as_user(OTHER_USER).create_id()

    stats = api.stats().data

    assert stats["total"] == 6
    assert stats["byStatus"] == {"QUEUED": 1, "PROCESSING": 0, "COMPLETED": 3, "FAILED": 1, "CANCELLED": 1}
    assert [stats[status.lower()] for status in STATUSES] == [1, 0, 3, 1, 1]
    assert stats["byType"] == {"VIDEO": 4, "IMAGE": 2}
    assert stats["active"] == 1
    assert stats["successRate"] == 0.75
    assert stats["averageGenerationSeconds"] >= 0
    assert stats["last24Hours"] == 6
    assert stats["updatedAt"]
    assert _as_recount(stats) == recount(aws_stack, "alice")


def test_stats_count_only_the_callers_tasks(api: Api):
    api.as_user(OTHER_USER).create_id()
    api.as_user(OTHER_USER).create_id()
    api.create_id()

    assert api.stats().data["total"] == 1
    assert api.as_user(OTHER_USER).stats().data["total"] == 2


# Each move's weight is how often it is drawn: enough creating and submitting that every state occurs.
MOVES = [
    *["create"] * 3,
    *["submit"] * 3,
    *["progress"] * 2,
    *["complete"] * 2,
    *["fail"] * 2,
    "cancel",
    "late_archive",
    "late_fail",
]


def _random_history(api: Api, steps: Steps, rng: random.Random, moves: int) -> list[str]:
    """Creates tasks and pushes them around at random, legal moves and stale ones alike: duplicate
    submits, archives retried after the end, fail steps after a cancel, cancels of finished tasks."""
    ids = [api.create_id()]
    for _ in range(moves):
        video_id = rng.choice(ids)
        status = steps.status(video_id)
        move = rng.choice(MOVES)
        if move == "create":
            ids.append(api.create_id(type=rng.choice(["VIDEO", "VIDEO", "IMAGE"])))
        elif move == "submit":
            steps.submit(video_id)
        elif move == "progress" and status is TaskStatus.PROCESSING:
            steps.videos.report("in_progress", rng.randint(1, 99))
            steps.workflow.poll(video_id)
        elif move == "complete" and status is TaskStatus.PROCESSING:
            steps.complete(video_id)
        elif move == "fail" and status is TaskStatus.PROCESSING:
            steps.fail(video_id)
        elif move == "cancel":
            assert api.cancel(video_id).status in (200, 409)
        elif move == "late_archive" and status not in (TaskStatus.QUEUED, TaskStatus.PROCESSING):
            assert steps.workflow.archive(video_id).next == "DONE"
        elif move == "late_fail":  # the Catch path: fails an active task, leaves a finished one alone
            steps.workflow.fail(video_id, "States.TaskFailed", '{"errorMessage": "boom"}')
    ids.append(api.create_id())  # and some still active at the end
    ids.append(api.create_id())
    steps.submit(ids[-1])
    return ids


@pytest.mark.parametrize("seed", [7, 2026, 31337])
def test_stats_equal_a_recount_after_a_random_mix_of_transitions(api: Api, steps: Steps, aws_stack, counters, seed):
    rng = random.Random(seed)

    ids = _random_history(api, steps, rng, moves=50)

    expected = recount(aws_stack, "alice")
    assert len(ids) == expected["total"] > 3
    assert len({status for status, count in expected["byStatus"].items() if count}) == 5, "too tame a history"
    stats = api.stats().data
    assert _as_recount(stats) == expected
    assert stats["active"] == expected["byStatus"]["QUEUED"] + expected["byStatus"]["PROCESSING"]
    by_type_and_status = {}
    for item in aws_stack.table("TASKS_TABLE").scan()["Items"]:
        name = f"{item['type'].lower()}_{item['status'].lower()}"
        by_type_and_status[name] = by_type_and_status.get(name, 0) + 1
    stored = counters()
    assert {name: stored.get(name, 0) for name in by_type_and_status} == by_type_and_status
    assert sum(value for name, value in stored.items() if name.startswith(("video_", "image_"))) == 2 * len(ids)


def test_stats_read_the_same_few_items_whatever_the_history(api: Api, steps: Steps, aws_stats_reads):
    api.create_id()
    small = aws_stats_reads(api)
    for _ in range(12):
        steps.complete(api.create_id())

    large = aws_stats_reads(api)

    assert large == small
    assert all(table != "tasks" for table, _ in large), large


@pytest.fixture
def aws_stats_reads(aws_stack, aws_calls):
    """``reads(api)``: the DynamoDB operations (table role, operation) one GET /stats makes."""
    roles = {aws_stack.environment["TASKS_TABLE"]: "tasks", aws_stack.environment["STATS_TABLE"]: "stats"}

    def reads(api: Api) -> list[tuple[str, str]]:
        aws_stack.settle_counters()  # the counter function's own writes are not the request's
        aws_calls.clear()
        assert api.stats().status == 200
        return sorted((roles.get(call.table or "", "other"), call.operation) for call in aws_calls.of("dynamodb"))

    return reads
