"""The counter function: tasks table stream → the owners' counters, each stream record counted once.

Records are the real stream records moto keeps for the writes a test makes, in the shape Lambda passes
(``local.stream_pump.lambda_record``), handed to the function as its event source mapping would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from local.stream_pump import lambda_record
from tests.fixtures.aws import AwsStack
from tests.fixtures.environment import REGION
from videotasks.adapters.store.counters import COUNTED_PREFIX, COUNTED_TTL, TOTALS, CountersTable
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import TaskStoreBusyError
from videotasks.domain.models import TaskStatus, utc_now

Invoke = Callable[[str, Any], Any]


def stream_records(aws_stack: AwsStack) -> list[dict[str, Any]]:
    """Every record of the tasks table's stream so far, oldest first."""
    client = boto3.client("dynamodbstreams", region_name=REGION)
    arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    found = []
    for shard in client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        found += [
            lambda_record(record, arn)
            for record in client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        ]
    return found


def totals(aws_stack: AwsStack, user: str = "alice") -> dict[str, int]:
    """The user's totals as stored, without settling anything (zeros and the timestamp left out)."""
    item = aws_stack.table("STATS_TABLE").get_item(Key={"userId": user, "bucket": TOTALS}).get("Item") or {}
    return {name: int(value) for name, value in item.items() if name not in ("userId", "bucket", "updatedAt") and value}


def count(invoke: Invoke, records: list[dict[str, Any]]) -> list[str]:
    """Deliver ``records`` to the function; the sequence numbers it reports as failed."""
    result = invoke("CountTasksFunction", {"Records": records})
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def test_a_task_life_counts_into_its_owner_totals(aws_stack: AwsStack, stored_task: Any, invoke: Invoke) -> None:
    stored_task(status=TaskStatus.COMPLETED, createdAt="2026-01-01T00:00:00.000Z")
    assert totals(aws_stack) == {}  # nothing in the task's own writes touches the totals

    assert count(invoke, stream_records(aws_stack)) == []

    counted = totals(aws_stack)
    assert {name: value for name, value in counted.items() if name != "generationSecondsSum"} == {
        "total": 1,
        "video_total": 1,
        "completed": 1,
        "video_completed": 1,
    }
    assert counted["generationSecondsSum"] > 0


def test_a_batch_delivered_twice_counts_once(aws_stack: AwsStack, stored_task: Any, invoke: Invoke) -> None:
    stored_task(status=TaskStatus.PROCESSING)
    stored_task(status=TaskStatus.CANCELLED)
    records = stream_records(aws_stack)
    assert count(invoke, records) == []
    once = totals(aws_stack)

    assert count(invoke, records) == []
    assert count(invoke, records[1:3]) == []  # a retry that starts in the middle

    assert (
        totals(aws_stack)
        == once
        == {
            "total": 2,
            "video_total": 2,
            "processing": 1,
            "video_processing": 1,
            "cancelled": 1,
            "video_cancelled": 1,
        }
    )


def test_records_of_different_tasks_count_the_same_in_any_order(
    aws_stack: AwsStack, stored_task: Any, invoke: Invoke
) -> None:
    """Two shards are read independently (each in its own order): counts are sums, so they commute."""
    stored_task(status=TaskStatus.COMPLETED)
    stored_task("alice", status=TaskStatus.FAILED)
    records = stream_records(aws_stack)
    first = [record for record in records if _video_id(record) == _video_id(records[0])]
    second = [record for record in records if record not in first]

    assert count(invoke, second) == [] and count(invoke, first) == []

    assert {name: value for name, value in totals(aws_stack).items() if name != "generationSecondsSum"} == {
        "total": 2,
        "video_total": 2,
        "completed": 1,
        "video_completed": 1,
        "failed": 1,
        "video_failed": 1,
    }


def test_a_deleted_task_is_uncounted(
    aws_stack: AwsStack, stored_task: Any, repository: TaskRepository, invoke: Invoke
) -> None:
    kept = stored_task(status=TaskStatus.FAILED)
    gone = stored_task(status=TaskStatus.COMPLETED)
    repository.delete(gone)

    assert count(invoke, stream_records(aws_stack)) == []

    assert totals(aws_stack) == {"total": 1, "video_total": 1, "failed": 1, "video_failed": 1}
    assert kept.status is TaskStatus.FAILED


def test_a_record_that_cannot_be_counted_now_stops_the_batch_there(
    aws_stack: AwsStack, stored_task: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_task(status=TaskStatus.PROCESSING)
    records = stream_records(aws_stack)  # INSERT, then QUEUED -> PROCESSING
    original = CountersTable.count_change
    busy = {records[0]["eventID"]}

    def flaky(self: CountersTable, user_id: str, video_id: str, event_id: str, *args: Any, **kwargs: Any) -> bool:
        if event_id in busy:
            raise TaskStoreBusyError()
        return original(self, user_id, video_id, event_id, *args, **kwargs)

    monkeypatch.setattr(CountersTable, "count_change", flaky)

    failed = count(invoke, records)

    # The first record failed: it and every later one are left for the retry, none counted out of order.
    assert failed == [record["dynamodb"]["SequenceNumber"] for record in records]
    assert totals(aws_stack) == {}
    busy.clear()
    assert count(invoke, records) == []  # Lambda's retry, from the first failed record
    assert totals(aws_stack) == {"total": 1, "video_total": 1, "processing": 1, "video_processing": 1}


def test_the_ids_of_counted_records_expire_after_the_stream_forgets_them(
    aws_stack: AwsStack, stored_task: Any, invoke: Invoke
) -> None:
    task = stored_task()
    before = utc_now()
    count(invoke, stream_records(aws_stack))

    marker = aws_stack.table("STATS_TABLE").get_item(
        Key={"userId": "alice", "bucket": f"{COUNTED_PREFIX}{task.videoId}"}
    )
    expires = int(marker["Item"]["expiresAt"])

    # Records live 24 hours in the stream: the ids are kept longer than any duplicate can come, then go.
    assert timedelta(hours=24) < COUNTED_TTL
    assert (before + COUNTED_TTL).timestamp() - 5 <= expires <= (utc_now() + COUNTED_TTL).timestamp() + 5
    assert len(marker["Item"]["events"]) == 1


def _video_id(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["videoId"]["S"])


def test_no_write_of_a_task_names_its_owners_totals(
    aws_stack: AwsStack, stored_task: Any, repository: TaskRepository
) -> None:
    """The hot item is gone from the request path: create, every status change, delete and import write
    without the per-user TOTALS item, so two tasks' writes never meet there."""
    from local import botocore_internals

    named: list[tuple[str, dict[str, Any]]] = []

    def record(client: Any, operation: str, params: dict[str, Any]) -> None:
        for entry in params.get("TransactItems", []):
            named.extend((operation, part.get("Key") or part.get("Item") or {}) for part in entry.values())
        if "Key" in params or "Item" in params:
            named.append((operation, params.get("Key") or params.get("Item") or {}))

    stop = botocore_internals.before_each_call(record)
    try:
        completed = stored_task(status=TaskStatus.COMPLETED)
        stored_task(status=TaskStatus.CANCELLED)
        stored_task(status=TaskStatus.FAILED)
        repository.delete(completed)
        imported = completed.model_copy(update={"videoId": "video_imported"})
        repository.import_ended([imported], now=utc_now())
    finally:
        stop()

    writes = [(operation, key) for operation, key in named if operation != "GetItem"]
    assert writes, "nothing was recorded: the recorder is not looking"
    assert [key for _, key in writes if key.get("bucket") in (TOTALS, {"S": TOTALS})] == []
