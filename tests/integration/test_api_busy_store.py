"""The API when DynamoDB keeps refusing writes for a moment (transaction conflicts on the caller's counters,
throttling): a 429 ``RATE_LIMITED`` in the envelope with ``Retry-After``, nothing written, and the same
request goes through once the store is free again. Conflicts are injected by the local DynamoDB
(local/moto_seam.py), as ``LOCAL_DYNAMODB_CONFLICT_RATE`` does in the local stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import moto_seam
from tests.integration.api_harness import Api, executions, item_count
from videotasks.adapters.executions import Executions
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import TaskStoreBusyError

pytest_plugins = ["tests.integration.api_fixtures"]


pytestmark = pytest.mark.usefixtures("strict_moto")


def scripted(*draws: float) -> Callable[[], float]:
    """Chance that answers ``draws`` one by one (below the rate: a conflict), then never conflicts."""
    queue = list(draws)
    return lambda: queue.pop(0) if queue else 1.0


def assert_busy(reply: Any) -> None:
    reply.error(429, "RATE_LIMITED")
    assert reply.headers.get("Retry-After") == "1"
    assert reply.body["message"] == "Too many changes to your tasks at once; retry in a moment"


def test_a_create_the_store_keeps_refusing_is_429_and_writes_nothing(
    api: Api, aws_stack: Any, counters: Callable[..., dict[str, int]]
) -> None:
    moto_seam.inject_conflicts(1.0)

    reply = api.create(prompt="a koi pond")

    assert_busy(reply)
    assert item_count(aws_stack, "TASKS_TABLE") == 0
    assert counters() == {}
    assert executions(aws_stack) == []


def test_a_create_with_a_key_that_met_a_busy_store_goes_through_when_sent_again(
    api: Api, aws_stack: Any, counters: Callable[..., dict[str, int]]
) -> None:
    moto_seam.inject_conflicts(1.0)
    assert_busy(api.create(prompt="a koi pond", key="key-1"))
    assert item_count(aws_stack, "IDEMPOTENCY_TABLE") == 0  # Powertools deleted its in-progress record

    moto_seam.inject_conflicts(0.0)
    again = api.create(prompt="a koi pond", key="key-1")

    assert again.status == 201, again.body
    assert item_count(aws_stack, "TASKS_TABLE") == 1
    assert len(executions(aws_stack)) == 1
    assert counters() == {"total": 1, "queued": 1, "video_total": 1, "video_queued": 1}


def test_one_conflict_on_a_create_is_absorbed_and_answers_201(api: Api, aws_stack: Any) -> None:
    moto_seam.inject_conflicts(0.5, scripted(0.0))

    reply = api.create()

    assert reply.status == 201, reply.body
    assert item_count(aws_stack, "TASKS_TABLE") == 1


def test_a_cancel_the_store_keeps_refusing_is_429_not_409_and_works_when_sent_again(api: Api) -> None:
    video_id = api.create_id()
    moto_seam.inject_conflicts(1.0)

    assert_busy(api.cancel(video_id))
    assert api.status_of(video_id) == "QUEUED"

    moto_seam.inject_conflicts(0.0)
    assert api.cancel(video_id).data["status"] == "CANCELLED"


def test_a_create_whose_execution_cannot_start_ends_failed_through_a_conflict(
    api: Api, aws_stack: Any, monkeypatch: pytest.MonkeyPatch, counters: Callable[..., dict[str, int]]
) -> None:
    def refuse(self: Executions, video_id: str) -> str:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "StartExecution")

    monkeypatch.setattr(Executions, "start", refuse)
    moto_seam.inject_conflicts(0.5, scripted(1.0, 0.0))  # the create goes through; marking it FAILED conflicts once

    api.create().error(500, "INTERNAL")

    [stored] = aws_stack.table("TASKS_TABLE").scan()["Items"]
    assert stored["status"] == "FAILED"
    assert counters() == {"total": 1, "failed": 1, "video_total": 1, "video_failed": 1}


def test_a_create_whose_execution_arn_cannot_be_recorded_still_answers_201(
    api: Api, aws_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(self: TaskRepository, video_id: str, execution_arn: str) -> None:
        raise TaskStoreBusyError()

    monkeypatch.setattr(TaskRepository, "set_execution", busy)

    reply = api.create()

    assert reply.status == 201, reply.body  # the task runs: failing the reply would invite a duplicate
    assert len(executions(aws_stack)) == 1
