"""The local stream pump (local/stream_pump.py) feeds a function as Lambda's event source mapping would."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from local import moto_seam
from local.moto_seam import forget_shard_iterators, shard_iterators
from local.stream_pump import StreamPump
from local.template import StreamSource, load_template, stream_sources
from tests.fixtures.aws import AwsStack
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Task, TaskStatus

SOURCE = next(source for source in stream_sources(load_template()) if source.function == "BroadcasterFunction")


class Function:
    """Records every batch it is invoked with; ``answer`` decides what each invocation returns or raises."""

    def __init__(self, answer: Callable[[list[str]], Any] | None = None) -> None:
        self.batches: list[list[str]] = []
        self._answer = answer or (lambda numbers: {"batchItemFailures": []})
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> Any:
        numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        with self._lock:
            self.batches.append(numbers)
        return self._answer(numbers)


def records(count: int) -> list[dict[str, Any]]:
    return [{"eventID": str(index), "dynamodb": {"SequenceNumber": f"{index:021d}"}} for index in range(count)]


def numbers(count: int) -> list[str]:
    return [f"{index:021d}" for index in range(count)]


def pump(function: Function, **settings: Any) -> StreamPump:
    source = dataclasses.replace(SOURCE, **settings)
    return StreamPump(source, "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", function, retry_delay=0)


def failing(*sequence_numbers: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": number} for number in sequence_numbers]}


# the template's settings ------------------------------------------------------------------------
def test_the_broadcasters_stream_settings_come_from_the_template() -> None:
    assert (
        StreamSource(
            function="BroadcasterFunction",
            table="TasksTable",
            starting_position="LATEST",
            batch_size=100,
            maximum_retry_attempts=3,
            bisect_on_error=True,
            reports_item_failures=True,
        )
        == SOURCE
    )


# delivery -----------------------------------------------------------------------------------------
def test_a_processed_batch_is_delivered_once() -> None:
    function = Function()

    pump(function).deliver(records(4))

    assert function.batches == [numbers(4)]


def test_reported_failures_resume_the_batch_from_the_lowest_failed_record() -> None:
    answers = iter([failing(numbers(4)[3], numbers(4)[2]), failing()])
    function = Function(lambda _: next(answers))

    pump(function).deliver(records(4))

    assert function.batches == [numbers(4), numbers(4)[2:]]


def test_an_identifier_that_names_no_record_retries_the_whole_batch() -> None:
    answers = iter([failing("not-a-sequence-number"), failing()])
    function = Function(lambda _: next(answers))

    pump(function).deliver(records(3))

    assert function.batches == [numbers(3), numbers(3)]


def test_failures_are_ignored_without_report_batch_item_failures() -> None:
    function = Function(lambda batch: failing(*batch))

    pump(function, reports_item_failures=False).deliver(records(2))

    assert function.batches == [numbers(2)]


def test_records_that_keep_failing_are_dropped_after_the_maximum_retries(caplog: pytest.LogCaptureFixture) -> None:
    function = Function(lambda batch: failing(batch[0]))

    pump(function, maximum_retry_attempts=2).deliver(records(2))

    assert function.batches == [numbers(2)] * 3  # the first try and two retries
    assert "dropping 2 stream records" in caplog.text


def test_a_function_error_bisects_the_batch_until_the_halves_succeed() -> None:
    def answer(batch: list[str]) -> Any:
        if len(batch) > 1:
            raise RuntimeError("too much at once")
        return failing()

    function = Function(answer)

    pump(function, maximum_retry_attempts=5).deliver(records(4))

    singles = [batch[0] for batch in function.batches if len(batch) == 1]
    assert singles == numbers(4)  # each record processed once, in order


def test_a_function_error_without_bisect_retries_the_same_batch() -> None:
    calls = iter([RuntimeError("once"), failing()])

    def answer(batch: list[str]) -> Any:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    function = Function(answer)

    pump(function, bisect_on_error=False).deliver(records(3))

    assert function.batches == [numbers(3), numbers(3)]


# against moto's stream ----------------------------------------------------------------------------
def test_writes_after_start_reach_the_function_as_lambda_shaped_records(
    aws_stack: AwsStack, stored_task: Callable[..., Task]
) -> None:
    events: list[dict[str, Any]] = []
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    stored_task("alice")  # before the pump starts: LATEST skips it
    feeder = StreamPump(SOURCE, stream_arn, lambda event: events.append(event) or {"batchItemFailures": []})
    feeder.poll_once()

    task = stored_task("alice")
    feeder.poll_once()

    [event] = events
    [record] = event["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stream_arn
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["Keys"] == {"videoId": {"S": task.videoId}}
    assert record["dynamodb"]["NewImage"]["userId"] == {"S": "alice"}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_the_pump_thread_delivers_until_stopped(aws_stack: AwsStack, stored_task: Callable[..., Task]) -> None:
    delivered = threading.Event()
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    feeder = StreamPump(SOURCE, stream_arn, lambda event: delivered.set(), poll_interval=0.05)
    feeder.start()
    try:
        stored_task("alice")
        assert delivered.wait(timeout=30)
    finally:
        feeder.stop()
    assert not feeder.running


def test_an_idle_pump_told_of_writes_delivers_at_once_without_polling_meanwhile(
    aws_stack: AwsStack, strict_moto: Any, stored_task: Callable[..., Task]
) -> None:
    delivered = threading.Event()
    polls = 0
    written = threading.Event()
    moto_seam.on_dynamodb_write(written.set)
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    feeder = StreamPump(SOURCE, stream_arn, lambda event: delivered.set(), wake=written, idle_poll_interval=600)
    counted = feeder.poll_once

    def poll_once() -> int:
        nonlocal polls
        polls += 1
        return counted()

    feeder.poll_once = poll_once  # type: ignore[method-assign]
    feeder.start()
    try:
        # Idle: the first poll found nothing and the pump waits for a write, not for its 600 s safety poll.
        threading.Event().wait(0.5)
        assert polls == 1
        stored_task("alice")
        assert delivered.wait(timeout=30)
    finally:
        feeder.stop()
    assert not feeder.running


def test_records_keep_coming_after_moto_rolls_back_a_failed_transaction(
    aws_stack: AwsStack, stored_task: Callable[..., Task]
) -> None:
    """moto answers a cancelled TransactWriteItems by putting back a deep copy of the whole table, stream
    shard included: a pump that followed its old iterator chain would never see another record."""
    inserted: list[str] = []
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")

    def function(event: dict[str, Any]) -> Any:
        inserted.extend(record["dynamodb"]["Keys"]["videoId"]["S"] for record in event["Records"])
        return {"batchItemFailures": []}

    feeder = StreamPump(SOURCE, stream_arn, function)
    feeder.poll_once()
    task = stored_task("alice")
    with pytest.raises(StaleWriteError):  # written as if it were still QUEUED after it started: refused
        TaskRepository(aws_stack.settings).transition(
            task.model_copy(update={"status": TaskStatus.PROCESSING}), TaskStatus.COMPLETED
        )

    after = stored_task("alice")
    feeder.poll_once()

    assert inserted == [task.videoId, after.videoId]


def test_the_pump_leaves_no_shard_iterators_behind_in_moto(
    aws_stack: AwsStack, stored_task: Callable[..., Task]
) -> None:
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    known = shard_iterators(stream_arn)
    feeder = StreamPump(SOURCE, stream_arn, lambda event: None, forget=forget_shard_iterators)
    before = len(known)

    for _ in range(5):
        stored_task("alice")
        feeder.poll_once()

    assert len(known) == before


def test_an_iterator_taken_before_a_rolled_back_transaction_reads_nothing_of_it(
    aws_stack: AwsStack, stored_task: Callable[..., Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pump takes an iterator, then reads it: a transaction refused in between (every create past a
    user's limit is one) must leave no record behind on the shard the iterator reads, nor take the sequence
    number of the next real record."""
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", moto_seam._transact_write_items)
    streams = aws_stack.client("dynamodbstreams")
    stream_arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
    task = stored_task("alice")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")

    with pytest.raises(StaleWriteError):
        TaskRepository(aws_stack.settings).transition(
            task.model_copy(update={"status": TaskStatus.PROCESSING}), TaskStatus.COMPLETED
        )
    read = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    after = stored_task("alice")
    later = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shard,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=read[-1]["dynamodb"]["SequenceNumber"],
    )

    assert [(record["eventName"], record["dynamodb"]["Keys"]["videoId"]["S"]) for record in read] == [
        ("INSERT", task.videoId)
    ]
    [following] = streams.get_records(ShardIterator=later["ShardIterator"])["Records"]
    assert following["dynamodb"]["Keys"]["videoId"]["S"] == after.videoId


def test_records_no_filter_pattern_matches_never_reach_the_function(
    aws_stack: AwsStack, stored_task: Callable[..., Task], repository: TaskRepository
) -> None:
    """The queue keeper's FilterCriteria, applied as the event source mapping applies it in the cloud."""
    keeper = next(source for source in stream_sources(load_template()) if source.function == "QueueKeeperFunction")
    delivered: list[tuple[str, str | None]] = []

    def function(event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            old = record["dynamodb"].get("OldImage", {}).get("status", {}).get("S")
            delivered.append((old, record["dynamodb"]["NewImage"]["status"]["S"]))
        return {"batchItemFailures": []}

    feeder = StreamPump(keeper, aws_stack.resolver.get_att("TasksTable", "StreamArn"), function)
    feeder.poll_once()
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    aws_stack.table("TASKS_TABLE").update_item(
        Key={"videoId": task.videoId}, UpdateExpression="SET progress = :p", ExpressionAttributeValues={":p": 40}
    )
    repository.transition(task, TaskStatus.COMPLETED)
    while feeder.poll_once():
        pass

    assert delivered == [(None, "QUEUED"), ("QUEUED", "PROCESSING"), ("PROCESSING", "COMPLETED")]
