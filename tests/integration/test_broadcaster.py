"""The broadcaster: tasks table stream → messages → the owner's subscribed connections.

Records are the real stream records moto keeps for the writes a test makes, in the shape Lambda passes
(``local.stream_pump.lambda_record``). Posting goes through a real ``apigatewaymanagementapi`` client with
botocore's ``Stubber`` where an exact AWS answer matters (410 GoneException and throttling, which moto
cannot produce), and through a recording fake of our own ``ConnectionNotifier`` interface elsewhere.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from local.stream_pump import lambda_record
from tests.fixtures.aws import AwsStack
from tests.fixtures.environment import REGION
from videotasks import wiring
from videotasks.adapters import aws, socket_push
from videotasks.adapters.media import MediaStore
from videotasks.adapters.socket_push import ConnectionNotifier, Deliveries, Delivery
from videotasks.adapters.store.connections import ConnectionRepository
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain import socket_outbound
from videotasks.domain.models import Task, TaskStatus, utc_now
from videotasks.services import broadcasting

Invoke = Callable[[str, Any], Any]
ENDPOINT = "https://wsapi12345.execute-api.us-east-1.amazonaws.com/test"


# -- the stream -------------------------------------------------------------------------------------
class Stream:
    """Reads the tasks table's stream from where the last read stopped, as Lambda-shaped records."""

    def __init__(self, aws_stack: AwsStack) -> None:
        self._client = boto3.client("dynamodbstreams", region_name=REGION)
        self._arn = aws_stack.resolver.get_att("TasksTable", "StreamArn")
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        self._iterators = [
            self._client.get_shard_iterator(StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for shard in shards
        ]

    def records(self) -> list[dict[str, Any]]:
        found = []
        for index, iterator in enumerate(self._iterators):
            reply = self._client.get_records(ShardIterator=iterator)
            self._iterators[index] = reply["NextShardIterator"]
            found += [lambda_record(record, self._arn) for record in reply["Records"]]
        return found


@pytest.fixture
def stream(aws_stack: AwsStack) -> Stream:
    return Stream(aws_stack)


# -- posting ----------------------------------------------------------------------------------------
class RecordingNotifier(ConnectionNotifier):
    """Our notifier's interface, answering from a script and recording what was posted to whom."""

    def __init__(self, answers: dict[str, Delivery] | None = None) -> None:
        super().__init__("", client=object())
        self.answers = answers or {}
        self.posted: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> Delivery:
        with self._lock:
            self.posted.append((connection_id, json.loads(data)))
        return self.answers.get(connection_id, Delivery.DELIVERED)

    def messages_to(self, connection_id: str) -> list[dict[str, Any]]:
        return [message for target, message in self.posted if target == connection_id]


@pytest.fixture
def management() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def _parent_loggers() -> None:
    """The package's child loggers were made at import, before POWERTOOLS_SERVICE_NAME was set; in Lambda
    the variable comes first. Give them the parent they would have had."""
    for module in (broadcasting, socket_push):
        Logger(service=module.logger.service)


@pytest.fixture
def use_notifier(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch, _parent_loggers: None
) -> Callable[[ConnectionNotifier], None]:
    """Make the broadcaster function post through ``notifier`` (wiring.reset() clears the cache)."""

    def install(chosen: ConnectionNotifier) -> None:
        monkeypatch.setattr(wiring, "notifier", functools.cache(lambda: chosen))

    return install


# -- the world --------------------------------------------------------------------------------------
@pytest.fixture
def connect(connections: ConnectionRepository) -> Callable[..., str]:
    def open_connection(connection_id: str, user_id: str = "alice", *follows: str | None) -> str:
        connections.add(connection_id, user_id, utc_now())
        for video_id in follows:
            connections.follow(connection_id, user_id, utc_now(), video_id=video_id, max_subscriptions=100)
        return connection_id

    return open_connection


def broadcast_batch(invoke: Invoke, records: Sequence[dict[str, Any]]) -> list[str]:
    """Run the broadcaster function on ``records``; the sequence numbers it reports as failed."""
    result = invoke("BroadcasterFunction", {"Records": list(records)})
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def sequence_numbers(records: Sequence[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in records]


# -- recipients and messages ------------------------------------------------------------------------
def test_only_the_owners_connections_that_follow_the_task_receive_it(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    task = stored_task("alice")
    other = stored_task("alice")
    follows_task = connect("c-task=", "alice", task.videoId)
    follows_all = connect("c-all=", "alice", None)
    connect("c-other-task=", "alice", other.videoId)
    connect("c-idle=", "alice")
    connect("c-bob-all=", "bob", None)
    stream.records()  # the creations above are not what this test is about

    TaskRepository(aws_stack.settings).transition(task, TaskStatus.PROCESSING)
    failures = broadcast_batch(invoke, stream.records())

    assert failures == []
    assert sorted(target for target, _ in recorder.posted) == sorted([follows_task, follows_all])
    message = recorder.messages_to(follows_task)[0]
    assert message["type"] == "taskProgress"
    assert message["payload"]["videoId"] == task.videoId
    assert "externalVideoId" in message["payload"]
    assert message["payload"]["status"] == "in_progress"


def test_recipients_come_from_a_query_on_by_user_never_a_scan(
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    use_notifier(RecordingNotifier())
    connect("c-1=", "alice", None)
    calls: list[tuple[str, dict[str, Any]]] = []
    client = aws.resource("dynamodb").meta.client
    client.meta.events.register(
        "before-parameter-build.dynamodb.*", lambda model, params, **_: calls.append((model.name, params))
    )
    stored_task("alice")

    broadcast_batch(invoke, stream.records())

    assert "Scan" not in [name for name, _ in calls]
    queries = [params for name, params in calls if name == "Query"]
    assert queries and all(params.get("IndexName") == "ByUser" for params in queries)


def test_a_new_task_is_announced_to_connections_following_all_tasks(
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    connect("c-all=", "alice", None)

    task = stored_task("alice")
    broadcast_batch(invoke, stream.records())

    [message] = recorder.messages_to("c-all=")
    assert message["payload"] | {"updatedAt": None, "message": None} == {
        "videoId": task.videoId,
        "externalVideoId": None,
        "status": "queued",
        "progress": 0,
        "message": None,
        "updatedAt": None,
        "queuePosition": None,
    }


def test_bookkeeping_writes_send_nothing(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    connect("c-1=", "alice", task.videoId)
    stream.records()
    tasks = TaskRepository(aws_stack.settings)

    tasks.update_running(task, pollAttempts=1, providerStatus="processing")
    tasks.set_execution(task.videoId, "arn:aws:states:us-east-1:123456789012:execution:m:x")
    records = stream.records()
    failures = broadcast_batch(invoke, records)

    assert len(records) == 2 and failures == []
    assert recorder.posted == []


def test_completion_carries_a_presigned_url_of_the_stored_media_and_both_ids(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    connect("c-1=", "alice", task.videoId)
    stream.records()

    TaskRepository(aws_stack.settings).transition(task, TaskStatus.COMPLETED, progress=100, mediaKey="media/v.mp4")
    broadcast_batch(invoke, stream.records())

    [message] = recorder.messages_to("c-1=")
    assert message["type"] == "taskCompleted"
    assert message["payload"]["videoId"] == task.videoId
    assert message["payload"]["externalVideoId"] == "ext_1"
    assert message["payload"]["status"] == "completed"
    url = message["payload"]["result"]["videoUrl"]
    assert aws_stack.bucket in url and "media/v.mp4" in url and "Signature" in url


def test_a_record_that_is_not_a_task_is_skipped_not_retried(
    use_notifier: Callable[[ConnectionNotifier], None], invoke: Invoke, stream: Stream, stored_task: Callable[..., Task]
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    stored_task("alice")
    [record] = stream.records()
    record["dynamodb"]["NewImage"] = {"videoId": {"S": "video_broken"}, "status": {"S": "EXPLODED"}}

    assert broadcast_batch(invoke, [record]) == []
    assert recorder.posted == []


def test_the_log_line_carries_both_ids(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_notifier(RecordingNotifier())
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    connect("c-1=", "alice", task.videoId)
    stream.records()

    TaskRepository(aws_stack.settings).update_running(task, progress=50)
    with caplog.at_level("INFO"):
        broadcast_batch(invoke, stream.records())

    [line] = [record for record in caplog.records if record.getMessage().startswith("broadcast:")]
    assert task.videoId in line.getMessage() and "ext_1" in line.getMessage()
    assert line.__dict__["videoId"] == task.videoId
    assert line.__dict__["externalVideoId"] == "ext_1"
    assert line.__dict__["delivered"] == 1


# -- GoneException and throttling, as API Gateway answers them --------------------------------------
def test_a_gone_connection_is_deleted_and_the_others_still_receive(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    connections: ConnectionRepository,
    management: tuple[Any, Stubber],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    client, stubber = management
    use_notifier(ConnectionNotifier(ENDPOINT, client=client, max_workers=1))  # one at a time: the stub's order
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    gone, alive = connect("a-gone=", "alice", task.videoId), connect("b-alive=", "alice", None)
    stream.records()
    stubber.add_client_error(
        "post_to_connection",
        service_error_code="GoneException",
        http_status_code=410,
        expected_params={"ConnectionId": gone, "Data": ANY},
    )
    stubber.add_response("post_to_connection", {}, {"ConnectionId": alive, "Data": ANY})

    TaskRepository(aws_stack.settings).update_running(task, progress=30)
    failures = broadcast_batch(invoke, stream.records())

    assert failures == []
    assert connections.get(gone) is None
    assert connections.get(alive) is not None


def test_failing_to_forget_a_gone_connection_does_not_fail_the_record(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    connect("a-gone=", "alice", task.videoId)
    connect("b-alive=", "alice", task.videoId)
    recorder = RecordingNotifier({"a-gone=": Delivery.GONE})
    use_notifier(recorder)
    stream.records()

    def throttled(self: ConnectionRepository, connection_id: str) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "DeleteItem")

    monkeypatch.setattr(ConnectionRepository, "remove", throttled)
    TaskRepository(aws_stack.settings).update_running(task, progress=30)
    failures = broadcast_batch(invoke, stream.records())

    assert failures == []  # b-alive has it; the next post to a-gone answers 410 again
    assert [message["payload"]["progress"] for message in recorder.messages_to("b-alive=")] == [30]


def test_a_throttled_connection_is_kept_and_does_not_stop_the_others(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    connections: ConnectionRepository,
    management: tuple[Any, Stubber],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    client, stubber = management
    use_notifier(ConnectionNotifier(ENDPOINT, client=client, max_workers=1))
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    throttled, alive = connect("a-busy=", "alice", task.videoId), connect("b-alive=", "alice", task.videoId)
    stream.records()
    stubber.add_client_error(
        "post_to_connection",
        service_error_code="LimitExceededException",
        http_status_code=429,
        expected_params={"ConnectionId": throttled, "Data": ANY},
    )
    stubber.add_response("post_to_connection", {}, {"ConnectionId": alive, "Data": ANY})

    TaskRepository(aws_stack.settings).update_running(task, progress=30)
    failures = broadcast_batch(invoke, stream.records())

    assert failures == []  # delivered to someone: a retry would only repeat it to them
    assert connections.get(throttled) is not None
    assert connections.get(alive) is not None


def test_a_record_nobody_received_because_of_throttling_is_retried_and_nothing_after_it_runs(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    management: tuple[Any, Stubber],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    client, stubber = management
    use_notifier(ConnectionNotifier(ENDPOINT, client=client, max_workers=1))
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    connect("c-1=", "alice", task.videoId)
    stream.records()
    stubber.add_client_error("post_to_connection", service_error_code="ThrottlingException", http_status_code=429)
    tasks = TaskRepository(aws_stack.settings)

    task = tasks.update_running(task, progress=30)
    tasks.update_running(task, progress=60)
    records = stream.records()
    failures = broadcast_batch(invoke, records)

    # The second record was not posted (the Stubber holds one answer only): it comes back behind the first.
    assert failures == sequence_numbers(records)


def test_after_a_failed_record_the_rest_of_the_batch_is_reported_without_running(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    first, second = (
        stored_task("alice", status=TaskStatus.PROCESSING),
        stored_task("alice", status=TaskStatus.PROCESSING),
    )
    connect("c-first=", "alice", first.videoId)
    connect("c-second=", "alice", second.videoId)
    recorder = RecordingNotifier({"c-first=": Delivery.FAILED})
    use_notifier(recorder)
    stream.records()
    tasks = TaskRepository(aws_stack.settings)

    tasks.update_running(second, progress=10)
    tasks.update_running(first, progress=20)
    tasks.update_running(second, progress=30)
    records = stream.records()
    failures = broadcast_batch(invoke, records)

    assert failures == sequence_numbers(records)[1:]
    assert [message["payload"]["progress"] for message in recorder.messages_to("c-second=")] == [10]


# -- the notifier on its own ------------------------------------------------------------------------
@pytest.mark.usefixtures("_parent_loggers")
def test_the_notifier_reads_gone_and_other_errors_from_the_management_api(
    management: tuple[Any, Stubber],
) -> None:
    client, stubber = management
    stubber.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)
    stubber.add_client_error("post_to_connection", service_error_code="ForbiddenException", http_status_code=403)
    stubber.add_client_error("post_to_connection", service_error_code="PayloadTooLargeException", http_status_code=413)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "d=", "Data": b"hello"})
    chosen = ConnectionNotifier(ENDPOINT, client=client, max_workers=1)

    outcomes = [chosen.post(connection_id, b"hello") for connection_id in ("a=", "b=", "c=", "d=")]

    assert outcomes == [Delivery.GONE, Delivery.FAILED, Delivery.FAILED, Delivery.DELIVERED]


@pytest.mark.usefixtures("_parent_loggers")
def test_the_notifier_posts_to_all_connections_at_once() -> None:
    """Every post waits until all have started: sequential posting would break the barrier."""
    recipients = [f"c-{index}=" for index in range(6)]
    started = threading.Barrier(len(recipients), timeout=30)

    class ConcurrentOnly:
        def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:  # boto3's names
            started.wait()
            return {}

    deliveries = ConnectionNotifier(ENDPOINT, client=ConcurrentOnly(), max_workers=len(recipients)).post_all(
        recipients, b"{}"
    )

    assert deliveries == Deliveries(dict.fromkeys(recipients, Delivery.DELIVERED))


def test_the_notifier_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="WEBSOCKET_ENDPOINT"):
        ConnectionNotifier("")


# -- languages ------------------------------------------------------------------------------------------
def test_each_connection_reads_the_task_in_its_language_rendered_once_per_language(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connections: ConnectionRepository,
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    task = stored_task("alice")
    for connection_id, lang in [("c-zh-1=", "zh-CN"), ("c-zh-2=", "zh-CN"), ("c-en=", "en"), ("c-old=", None)]:
        if lang is None:  # an item written before connections had a language reads English
            connections.add(connection_id, "alice", utc_now())
        else:
            connections.add(connection_id, "alice", utc_now(), lang=lang)
        connections.follow(connection_id, "alice", utc_now(), video_id=None, max_subscriptions=100)
    stream.records()
    rendered: list[str] = []
    real = socket_outbound.task_message

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        rendered.append(kwargs.get("lang", "en"))
        return real(*args, **kwargs)

    monkeypatch.setattr(socket_outbound, "task_message", counting)

    TaskRepository(aws_stack.settings).update_running(
        TaskRepository(aws_stack.settings).transition(task, TaskStatus.PROCESSING), progress=42
    )
    assert broadcast_batch(invoke, stream.records()) == []

    last = {target: message["payload"]["message"] for target, message in recorder.posted}
    assert last == {
        "c-zh-1=": "正在生成视频（42%）",
        "c-zh-2=": "正在生成视频（42%）",
        "c-en=": "Generating the video (42%)",
        "c-old=": "Generating the video (42%)",
    }
    assert sorted(rendered.count(lang) for lang in ("zh-CN", "en")) == [2, 2]  # per record, per language


# -- deleted tasks ----------------------------------------------------------------------------------
def _deleted_completed_task(aws_stack: AwsStack, stored_task: Callable[..., Task], stream: Stream) -> Task:
    """A COMPLETED task with a stored media object, then deleted by the repository (its REMOVE record is
    the next thing on the stream)."""
    repository = TaskRepository(aws_stack.settings)
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    key = f"media/{task.videoId}.mp4"
    aws_stack.client("s3").put_object(Bucket=aws_stack.bucket, Key=key, Body=b"mp4")
    task = repository.transition(task, TaskStatus.COMPLETED, progress=100, mediaKey=key)
    stream.records()
    repository.delete(task)
    return task


def test_a_deleted_task_is_announced_to_its_followers_and_its_media_deleted(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    follows_all = connect("c-all=", "alice", None)
    connect("c-bob-all=", "bob", None)
    task = _deleted_completed_task(aws_stack, stored_task, stream)
    records = stream.records()

    assert [record["eventName"] for record in records] == ["REMOVE"]
    assert broadcast_batch(invoke, records) == []
    assert [target for target, _ in recorder.posted] == [follows_all]
    message = recorder.messages_to(follows_all)[0]
    assert message["type"] == "taskDeleted"
    assert message["payload"] == {"videoId": task.videoId, "externalVideoId": "ext_1"}
    assert [key for key in aws_stack.media_keys() if task.videoId in key] == []


def test_a_removed_task_whose_media_cannot_be_deleted_fails_its_record_and_tells_nobody_yet(
    aws_stack: AwsStack,
    stream: Stream,
    stored_task: Callable[..., Task],
    connect: Callable[..., str],
    use_notifier: Callable[[ConnectionNotifier], None],
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = RecordingNotifier()
    use_notifier(recorder)
    connect("c-all=", "alice", None)
    _deleted_completed_task(aws_stack, stored_task, stream)
    records = stream.records()

    def refuse(self: MediaStore, key: str) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 is down"}}, "DeleteObject")

    monkeypatch.setattr(MediaStore, "delete", refuse)

    assert broadcast_batch(invoke, records) == sequence_numbers(records)  # Lambda retries it
    assert recorder.posted == []
