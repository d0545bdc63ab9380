"""DynamoDB cancels transactions that overlap on an item (``TransactionConflict``) and refuses single-item
writes to an item a transaction holds (``TransactionConflictException``). The local DynamoDB does the same
(local/moto_seam.py), ``LOCAL_DYNAMODB_CONFLICT_RATE`` injects more, and the code meets them as what they
are: DynamoDB being busy, never a lost race. The bug, once: with one injected conflict,
submit cancelled its provider job and left the task QUEUED; archive deleted the media and left it
PROCESSING; the execution succeeded, so nothing noticed."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import moto_seam
from tests.fixtures.aws import shared_dynamodb
from tests.fixtures.tasks import new_task
from videotasks.adapters.store import writes
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.store.writes import Refusal
from videotasks.domain.errors import TaskStoreBusyError
from videotasks.domain.models import Task, TaskStatus
from videotasks.services.workflow import Workflow

HANG_GUARD_SECONDS = 30  # how long a test waits for a thread before calling it stuck; not a speed check
StoredTask = Callable[..., Task]


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def repository(aws_stack: Any, strict_moto: Any, pauses: list[float]) -> TaskRepository:
    """The repository, recording its pauses between attempts instead of sleeping them."""
    return TaskRepository(aws_stack.settings, dynamodb=shared_dynamodb(), pause=pauses.append)


@pytest.fixture
def counted_table(strict_moto: Any) -> Any:
    strict_moto.create_table(
        TableName="Conflicts",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return strict_moto


def count(item: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "Conflicts",
            "Key": {"id": {"S": item}},
            "UpdateExpression": "ADD hits :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def hits(dynamodb: Any, item: str) -> int:
    stored = dynamodb.get_item(TableName="Conflicts", Key={"id": {"S": item}}, ConsistentRead=True).get("Item")
    return int(stored["hits"]["N"]) if stored else 0


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


class TransactionUnderWay:
    """A transaction whose request has arrived and waits its turn: the test holds DynamoDB's lock."""

    def __init__(self, dynamodb: Any, items: list[dict[str, Any]]) -> None:
        self._dynamodb, self._items = dynamodb, items
        self._pool = ThreadPoolExecutor(max_workers=1)
        self.outcome: Future[Any] | None = None

    def __enter__(self) -> TransactionUnderWay:
        moto_seam._DYNAMODB_LOCK.acquire()
        held_before = moto_seam.items_held()
        self.outcome = self._pool.submit(self._dynamodb.transact_write_items, TransactItems=self._items)
        wait_until(lambda: moto_seam.items_held() >= held_before + len(self._items))
        return self

    def __exit__(self, *exc: object) -> None:
        moto_seam._DYNAMODB_LOCK.release()
        assert self.outcome is not None
        self.outcome.result(timeout=HANG_GUARD_SECONDS)
        self._pool.shutdown()


def in_another_thread(call: Callable[[], Any]) -> Any:
    """Run ``call`` on another thread (this one holds the lock, which is reentrant) and return its result."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=HANG_GUARD_SECONDS)


def cancellation(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        in_another_thread(call)
    return refused.value.response


# -- the local DynamoDB --------------------------------------------------------------------------------


def test_a_transaction_on_an_item_another_one_holds_is_cancelled_with_transaction_conflict(
    counted_table: Any,
) -> None:
    dynamodb = counted_table
    with TransactionUnderWay(dynamodb, [count("shared")]):
        refused = cancellation(
            lambda: dynamodb.transact_write_items(TransactItems=[count("mine"), count("shared"), count("other")])
        )

    assert refused["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in refused["CancellationReasons"]] == ["None", "TransactionConflict", "None"]
    assert refused["Error"]["Message"].endswith("[None, TransactionConflict, None]")
    assert (hits(dynamodb, "shared"), hits(dynamodb, "mine"), hits(dynamodb, "other")) == (1, 0, 0)


def test_transactions_on_other_items_at_the_same_time_both_go_through(counted_table: Any) -> None:
    dynamodb = counted_table
    with TransactionUnderWay(dynamodb, [count("first")]):
        pending = ThreadPoolExecutor(max_workers=1)
        second = pending.submit(dynamodb.transact_write_items, TransactItems=[count("second")])
    second.result(timeout=HANG_GUARD_SECONDS)
    pending.shutdown()

    assert (hits(dynamodb, "first"), hits(dynamodb, "second")) == (1, 1)


def test_a_single_item_write_to_an_item_a_transaction_holds_is_refused_with_transaction_conflict(
    counted_table: Any,
) -> None:
    dynamodb = counted_table
    with TransactionUnderWay(dynamodb, [count("shared")]):
        refused = cancellation(
            lambda: dynamodb.put_item(TableName="Conflicts", Item={"id": {"S": "shared"}, "hits": {"N": "41"}})
        )

    assert refused["Error"]["Code"] == "TransactionConflictException"
    assert hits(dynamodb, "shared") == 1


def test_an_item_is_free_again_once_its_transaction_ended(counted_table: Any) -> None:
    dynamodb = counted_table
    with TransactionUnderWay(dynamodb, [count("shared")]):
        pass

    dynamodb.transact_write_items(TransactItems=[count("shared")])
    dynamodb.put_item(TableName="Conflicts", Item={"id": {"S": "shared"}, "hits": {"N": "7"}})
    assert hits(dynamodb, "shared") == 7 and moto_seam.items_held() == 0


def test_at_conflict_rate_one_every_transaction_is_cancelled_and_writes_nothing(counted_table: Any) -> None:
    dynamodb = counted_table
    moto_seam.inject_conflicts(1.0)

    for _ in range(5):
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as refused:
            dynamodb.transact_write_items(TransactItems=[count("a"), count("b")])
        assert [reason["Code"] for reason in refused.value.response["CancellationReasons"]] == [
            "TransactionConflict",
            "None",
        ]
    dynamodb.put_item(TableName="Conflicts", Item={"id": {"S": "plain"}})  # single-item writes are not affected

    assert (hits(dynamodb, "a"), hits(dynamodb, "b")) == (0, 0)


def test_the_conflict_rate_cancels_that_share_of_transactions(counted_table: Any) -> None:
    dynamodb = counted_table
    rate, transactions = 0.3, 60
    same_draws = random.Random(9)
    expected = sum(same_draws.random() < rate for _ in range(transactions))
    moto_seam.inject_conflicts(rate, random.Random(9).random)

    cancelled = 0
    for _ in range(transactions):
        try:
            dynamodb.transact_write_items(TransactItems=[count("counted")])
        except dynamodb.exceptions.TransactionCanceledException:
            cancelled += 1

    assert 0 < cancelled == expected < transactions
    assert hits(dynamodb, "counted") == transactions - cancelled


def test_a_conflict_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="LOCAL_DYNAMODB_CONFLICT_RATE"):
        moto_seam.inject_conflicts(1.5)


# -- the repository against it ---------------------------------------------------------------------


def scripted(*draws: float) -> Callable[[], float]:
    """Chance that answers ``draws`` one by one, then never conflicts again."""
    queue = list(draws)
    return lambda: queue.pop(0) if queue else 1.0


def test_a_create_that_meets_a_conflict_is_tried_again_and_counted_once(
    repository: TaskRepository, aws_stack: Any
) -> None:
    moto_seam.inject_conflicts(0.5, scripted(0.0))

    task = repository.create(new_task())

    assert repository.get(task.videoId) == task
    assert aws_stack.counters("alice")["total"] == 1


def test_a_create_that_keeps_meeting_conflicts_is_busy_and_writes_nothing(
    repository: TaskRepository, aws_stack: Any
) -> None:
    moto_seam.inject_conflicts(1.0)
    task = new_task()

    with pytest.raises(TaskStoreBusyError):
        repository.create(task)

    assert repository.get(task.videoId) is None
    assert aws_stack.counters("alice") == {}


def test_a_progress_write_to_a_task_a_transaction_holds_is_busy_while_it_holds_it(
    repository: TaskRepository, stored_task: StoredTask, strict_moto: Any, pauses: list[float], aws_stack: Any
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    holds_the_task = {
        "Update": {
            "TableName": aws_stack.settings.tasks_table,
            "Key": {"videoId": {"S": task.videoId}},
            "UpdateExpression": "SET pollAttempts = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }
    }

    with TransactionUnderWay(strict_moto, [holds_the_task]), pytest.raises(TaskStoreBusyError):
        in_another_thread(lambda: repository.update_running(task, progress=40))  # busy at every attempt, not stale
    assert len(pauses) == writes.WRITE_ATTEMPTS - 1

    repository.update_running(task, progress=40)  # the transaction ended: the same write goes through
    stored = repository.get(task.videoId)
    assert stored is not None and (stored.progress, stored.pollAttempts) == (40, 1)


# -- the workflow: a busy store is never a lost race -------------------------------------------------------


def conflicts_from_now_on() -> None:
    moto_seam.inject_conflicts(1.0)


def test_submit_meeting_conflicts_raises_busy_keeps_the_job_and_completes_when_retried(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, fake_videos: Any
) -> None:
    task = stored_task()
    fake_videos.after_create = conflicts_from_now_on

    with pytest.raises(TaskStoreBusyError):
        workflow.submit(task.videoId)
    assert fake_videos.cancelled == []
    assert repository.get(task.videoId).status is TaskStatus.QUEUED  # type: ignore[union-attr]

    moto_seam.inject_conflicts(0.0)
    fake_videos.after_create = None
    assert workflow.submit(task.videoId).next == "WAIT"  # the state machine's Retry
    assert repository.get(task.videoId).status is TaskStatus.PROCESSING  # type: ignore[union-attr]


def test_archive_meeting_conflicts_raises_busy_leaves_no_media_and_completes_when_retried(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, fake_videos: Any, aws_stack: Any
) -> None:
    task = stored_task()
    workflow.submit(task.videoId)
    fake_videos.report("completed", 100)
    fake_videos.after_download = conflicts_from_now_on

    with pytest.raises(TaskStoreBusyError):
        workflow.archive(task.videoId)
    # Nothing of the refused completion stays: the task may end otherwise before the retry.
    assert aws_stack.media_keys() == []
    assert repository.get(task.videoId).status is TaskStatus.PROCESSING  # type: ignore[union-attr]

    moto_seam.inject_conflicts(0.0)
    fake_videos.after_download = None
    assert workflow.archive(task.videoId).next == "DONE"
    assert repository.get(task.videoId).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert len(aws_stack.media_keys()) == 1
    assert aws_stack.counters("alice")["completed"] == 1


def test_fail_meeting_conflicts_raises_busy_instead_of_giving_up(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    moto_seam.inject_conflicts(1.0)

    with pytest.raises(TaskStoreBusyError):
        workflow.fail(task.videoId, "ProviderPermanentError", None)

    moto_seam.inject_conflicts(0.0)
    workflow.fail(task.videoId, "ProviderPermanentError", None)
    assert repository.get(task.videoId).status is TaskStatus.FAILED  # type: ignore[union-attr]


def test_one_conflict_on_each_write_of_a_task_still_ends_it_completed(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, fake_videos: Any, aws_stack: Any
) -> None:
    task = stored_task()
    moto_seam.inject_conflicts(0.5, scripted(0.0, 0.9, 0.0, 0.9))  # every other transaction conflicts

    assert workflow.submit(task.videoId).next == "WAIT"
    fake_videos.report("completed", 100)
    assert workflow.archive(task.videoId).next == "DONE"

    assert repository.get(task.videoId).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert fake_videos.cancelled == [] and len(aws_stack.media_keys()) == 1


def test_read_as_a_lost_race_one_conflict_strands_the_task_as_the_old_code_did(
    workflow: Workflow,
    stored_task: StoredTask,
    repository: TaskRepository,
    fake_videos: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old reading (every cancellation is a lost race) against the same injected conflicts: this is the
    failure the conflict injection exists to show, kept as a test so the mechanism keeps catching it."""

    def every_cancellation_is_stale(error: ClientError) -> Refusal:
        stale_codes = {"TransactionCanceledException", "ConditionalCheckFailedException"}
        return Refusal.STALE if error.response["Error"]["Code"] in stale_codes else Refusal.UNKNOWN

    monkeypatch.setattr(writes, "refusal", every_cancellation_is_stale)
    task = stored_task()
    fake_videos.after_create = conflicts_from_now_on

    result = workflow.submit(task.videoId)

    assert result.next == "DONE"  # the execution would end "successfully" here
    assert fake_videos.cancelled == ["ext_video_1"]
    assert repository.get(task.videoId).status is TaskStatus.QUEUED  # type: ignore[union-attr]


def test_concurrent_tasks_of_one_user_under_conflicts_all_complete_and_count_right(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, fake_videos: Any, aws_stack: Any
) -> None:
    tasks = [stored_task() for _ in range(8)]
    moto_seam.inject_conflicts(0.3, random.Random(3).random)
    fake_videos.report("completed", 100)

    def run(task: Task) -> TaskStatus:
        for step in (workflow.submit, workflow.archive):
            for _ in range(10):  # the state machine's Retry on TaskStoreBusyError
                try:
                    step(task.videoId)
                    break
                except TaskStoreBusyError:
                    continue
        stored = repository.get(task.videoId)
        assert stored is not None
        return stored.status

    barrier = threading.Barrier(len(tasks))

    def together(task: Task) -> TaskStatus:
        barrier.wait(timeout=HANG_GUARD_SECONDS)
        return run(task)

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        statuses = list(pool.map(together, tasks))

    assert statuses == [TaskStatus.COMPLETED] * len(tasks)
    counters = aws_stack.counters("alice")
    assert (counters["total"], counters["completed"], counters.get("queued", 0), counters.get("processing", 0)) == (
        len(tasks),
        len(tasks),
        0,
        0,
    )


# -- the state machine retries a busy store ----------------------------------------------------------


def test_every_workflow_step_of_the_state_machine_retries_a_busy_store_before_catching_it() -> None:
    definition = json.loads((Path(__file__).parents[2] / "statemachine" / "video_task.asl.json").read_text())
    steps = {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}

    for name in ("Submit", "Poll", "Archive"):
        retriers = [retrier for retrier in steps[name]["Retry"] if "TaskStoreBusyError" in retrier["ErrorEquals"]]
        assert len(retriers) == 1, name
        assert retriers[0]["MaxAttempts"] >= 3, name
    assert any("States.ALL" in retrier["ErrorEquals"] for retrier in steps["MarkFailed"]["Retry"])
