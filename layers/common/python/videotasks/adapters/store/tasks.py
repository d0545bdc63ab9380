"""The tasks table.

Every write to a task is conditional on the state the caller expects, so a retried or raced write cannot
resurrect a terminal task. The owner's counters follow from the table's stream (``functions/count_tasks``,
idempotent per stream record), so no write here names the per-user ``TOTALS`` item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from videotasks.adapters import aws
from videotasks.adapters.store.backfill import BackfillPage, backfill_page
from videotasks.adapters.store.counters import CountersTable, UserCounters
from videotasks.adapters.store.items import (
    FILTER_KEY,
    LIST_KEY,
    filter_key,
    list_key,
    list_keys,
    set_expression,
    task_from_item,
    task_item,
)
from videotasks.adapters.store.queue import enqueue_item
from videotasks.adapters.store.usage import UsageNow, UsageTable
from videotasks.adapters.store.writes import ConditionalWriter
from videotasks.adapters.tracing import tracer
from videotasks.domain.admission import Charge
from videotasks.domain.errors import StaleWriteError, TaskStoreBusyError
from videotasks.domain.lifecycle import can_transition
from videotasks.domain.models import TERMINAL_STATUSES, Task, TaskStatus, TaskType, iso, utc_now
from videotasks.domain.polling import Histogram
from videotasks.settings import Settings

logger = Logger(child=True)
MAX_QUERY_PAGES = 10  # bounds the BatchGetItem rounds of ``stored_ids`` while DynamoDB leaves keys unprocessed
# Items a filtered listing may read beyond its page in each partition it merges: a partition is first read for
# this many (or the page, when fewer), and read on only when its head is the next task to return.
_MERGE_SLACK = 2
_CHANGED_WHILE_WRITTEN = "The task changed while it was being written"


@dataclass(frozen=True)
class TaskPage:
    items: list[Task]
    position: dict[str, Any] | None  # where the next page starts, or None at the end


class TaskRepository:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any | None = None,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._tasks = self._dynamodb.Table(settings.tasks_table)
        self._counters = CountersTable(self._dynamodb.Table(settings.stats_table))
        self._usage = UsageTable(self._dynamodb.Table(settings.stats_table))
        self._writer = ConditionalWriter(self._dynamodb.meta.client, pause=pause)
        self._queue_table = settings.queue_table

    # reads -----------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def get(self, video_id: str) -> Task | None:
        item = self._tasks.get_item(Key={"videoId": video_id}, ConsistentRead=True).get("Item")
        return task_from_item(item) if item else None

    @tracer.capture_method
    def external_id_claimed(self, external_id: str) -> bool:
        """Whether some task already holds this provider job id (ByExternalTaskId index)."""
        reply = self._tasks.query(
            IndexName="ByExternalTaskId",
            KeyConditionExpression="externalTaskId = :id",
            ExpressionAttributeValues={":id": external_id},
            Limit=1,
        )
        return bool(reply.get("Items"))

    @tracer.capture_method(capture_response=False)
    def find_by_external_id(self, external_id: str, *, provider: str) -> Task | None:
        """The task that holds ``provider``'s job ``external_id`` (ByExternalTaskId index, then the item
        itself: the index holds keys only, and two providers' job ids may coincide)."""
        reply = self._tasks.query(
            IndexName="ByExternalTaskId",
            KeyConditionExpression="externalTaskId = :id",
            ExpressionAttributeValues={":id": external_id},
        )
        for key in reply.get("Items", []):
            task = self.get(str(key["videoId"]))
            if task is not None and task.externalTaskId == external_id and task.provider == provider:
                return task
        return None

    @tracer.capture_method(capture_response=False)
    def get_owned(self, video_id: str, user_id: str) -> Task | None:
        """The task when ``user_id`` owns it; another user's task is indistinguishable from none."""
        task = self.get(video_id)
        return task if task and task.userId == user_id else None

    @tracer.capture_method(capture_response=False)
    def list_owned(
        self,
        user_id: str,
        *,
        limit: int,
        status: TaskStatus | None = None,
        task_type: TaskType | None = None,
        start: dict[str, Any] | None = None,
    ) -> TaskPage:
        """Newest first, up to ``limit`` tasks matching the filters, after ``start`` (a ``position_of``).

        Reads ``limit + 1`` tasks (the one beyond the page says whether there is a next one) plus at most
        ``_MERGE_SLACK`` per partition a filter merges, never the tasks the filters leave out: without a
        filter from ``ByUser``, with one from the ``ByUserFilter`` partitions it names (docs/ARCHITECTURE.md,
        "Listing")."""
        if status is None and task_type is None:
            raw = self._newest_of_user(user_id, limit + 1, start)
        else:
            statuses = [status] if status is not None else list(TaskStatus)
            types = [task_type] if task_type is not None else list(TaskType)
            after = list_key(start["createdAt"], start["videoId"]) if start else None
            partitions = [
                _Partition(self._tasks, filter_key(user_id, kind, state), after) for kind in types for state in statuses
            ]
            raw = _merge_newest_first(partitions, limit + 1)
        items = [task_from_item(item) for item in raw]
        if len(items) > limit:
            return TaskPage(items[:limit], self.position_of(items[limit - 1]))
        return TaskPage(items, None)

    def _newest_of_user(self, user_id: str, wanted: int, start: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The user's ``wanted`` newest items after ``start``, following DynamoDB's 1 MB pages when they cut a
        read short."""
        items: list[dict[str, Any]] = []
        position = start
        while len(items) < wanted:
            query: dict[str, Any] = {
                "IndexName": "ByUser",
                "KeyConditionExpression": Key("userId").eq(user_id),
                "ScanIndexForward": False,
                "Limit": wanted - len(items),
            }
            if position:
                query["ExclusiveStartKey"] = position
            reply = self._tasks.query(**query)
            items.extend(reply.get("Items", []))
            position = reply.get("LastEvaluatedKey")
            if not position:
                break
        return items

    # What a position holds: ByUser's key (an ExclusiveStartKey), from which ByUserFilter's list key is made too,
    # so a cursor of either path (and one made before ByUserFilter existed) resumes the same way.
    POSITION = ("videoId", "userId", "createdAt")

    @staticmethod
    def position_of(task: Task) -> dict[str, Any]:
        return {"videoId": task.videoId, "userId": task.userId, "createdAt": task.createdAt}

    @tracer.capture_method
    def total_matching(self, user_id: str, status: TaskStatus | None, task_type: TaskType | None) -> int:
        """How many of the user's tasks have ``status`` and ``task_type`` (``None`` matches any), from the
        counters' totals alone: a listing needs no last-24-hours figure."""
        return UserCounters.of_stored(self._counters.read_totals(user_id), 0).matching(status, task_type)

    @tracer.capture_method
    def counters(self, user_id: str, now: datetime) -> UserCounters:
        """The user's counters, with the tasks created in the 24 hours before ``now``."""
        return UserCounters.of_stored(*self.get_counters(user_id, now))

    @tracer.capture_method
    def get_counters(self, user_id: str, now: datetime) -> tuple[dict[str, Any], int]:
        """The user's counters item as stored, and the number of tasks created in the 24 hours before ``now``."""
        return self._counters.read(user_id, now)

    @tracer.capture_method(capture_response=False)
    def generation_times(self, model: str) -> Histogram | None:
        """The model's learned generation times; ``None`` when they cannot be read now (the policy then
        falls back to the catalog's guess: a hint is not worth failing a step for)."""
        try:
            return self._counters.read_generation_times(model)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not read the model's generation times", extra={"reason": type(exc).__name__})
            return None

    @tracer.capture_method(capture_response=False)
    def record_generation_time(self, model: str, seconds: float) -> None:
        """Add a completed generation to the model's times; best effort, for the same reason."""
        try:
            self._counters.record_generation_time(model, seconds)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not record the generation time", extra={"reason": type(exc).__name__})

    # writes ----------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def create(self, task: Task, charge: Charge | None = None) -> Task:
        """Insert a new QUEUED task, in one transaction with its hour of creation counted and its charge to its
        owner's limits."""
        self.create_many([task], charge)
        return task

    @tracer.capture_method(capture_response=False)
    def create_many(self, tasks: Sequence[Task], charge: Charge | None = None) -> list[Task]:
        """Insert new QUEUED tasks of one user, count their hour of creation and charge ``charge`` to the
        user's limits, all in one transaction: every task is created, or none.

        Raises ``RateLimitedError`` or ``QuotaExceededError`` (``charge``'s) when a limit has no room left.
        """
        puts = self._puts_of_new(tasks)
        items = [
            *puts,
            *self._counters.count_created(tasks),
            *(entry for task in tasks for entry in self._queued(task)),
        ]
        limits: dict[int, str] = {}
        if charge is not None:
            charged, meaning = self._usage.charge(charge)
            limits = {len(items) + index: limit for index, limit in meaning.items()}
            items += charged

        def refused(codes: list[str]) -> Exception | None:
            if charge is None:
                return None
            failed = {limits.get(index) for index, code in enumerate(codes) if code == "ConditionalCheckFailed"}
            if "rate" in failed:
                return charge.rate_limited()
            if "quota" in failed:
                return charge.quota_exceeded()
            return None

        self._writer.transact(items, stale=_CHANGED_WHILE_WRITTEN, refused=refused)
        return list(tasks)

    def _puts_of_new(self, tasks: Sequence[Task]) -> list[dict[str, Any]]:
        """Transaction items inserting ``tasks``, each refused if its id is already stored."""
        return [
            {
                "Put": {
                    "TableName": self._tasks.name,
                    "Item": task_item(task),
                    "ConditionExpression": "attribute_not_exists(videoId)",
                }
            }
            for task in tasks
        ]

    @tracer.capture_method(capture_response=False)
    def import_ended(self, tasks: Sequence[Task], *, now: datetime) -> None:
        """Insert ended tasks of one user brought over from another backend (with their hours of creation
        counted), in one transaction: every task lands, or none does; the aggregator counts them from the
        stream like any other. No queue entry, no charge to the
        user's limits, no execution: they are history. Raises ``StaleWriteError`` when one of the ids is
        already stored (the caller retries the others one by one)."""
        if any(not task.is_terminal for task in tasks) or len({task.userId for task in tasks}) != 1:
            raise ValueError("only ended tasks of one user are imported together")
        puts = self._puts_of_new(tasks)
        self._writer.transact(
            [*puts, *self._counters.count_imported(tasks, now=now)], stale="A task with this id is already stored"
        )

    @tracer.capture_method(capture_response=False)
    def stored_ids(self, video_ids: Sequence[str]) -> set[str]:
        """Which of ``video_ids`` are stored (BatchGetItem of keys only, up to 100 ids a call, any keys
        DynamoDB leaves unprocessed asked again). The resource's client speaks plain values, as the
        transactions do."""
        found: set[str] = set()
        client = self._dynamodb.meta.client
        for start in range(0, len(video_ids), 100):
            keys = [{"videoId": video_id} for video_id in dict.fromkeys(video_ids[start : start + 100])]
            request: dict[str, Any] = {self._tasks.name: {"Keys": keys, "ProjectionExpression": "videoId"}}
            for _ in range(MAX_QUERY_PAGES):
                reply = client.batch_get_item(RequestItems=request)
                found.update(str(item["videoId"]) for item in reply.get("Responses", {}).get(self._tasks.name, []))
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.1)
            else:
                raise TaskStoreBusyError()
        return found

    @tracer.capture_method
    def usage(self, user_id: str, now: datetime) -> UsageNow:
        """The user's counts in the current rate and quota windows, and their tasks generating and queued."""
        return self._usage.read(user_id, now)

    @tracer.capture_method(capture_response=False)
    def delete(self, task: Task) -> None:
        """Remove an ended task and uncount its hour of creation, in one transaction (the aggregator uncounts
        the rest from the REMOVE record). Raises ``StaleWriteError`` when the
        stored task is gone or not in ``task.status`` (which, for an ended task, means gone)."""
        if not task.is_terminal:
            raise StaleWriteError(f"Task {task.videoId} is {task.status.value}; only an ended task is deleted")
        remove = {
            "Delete": {
                "TableName": self._tasks.name,
                "Key": {"videoId": task.videoId},
                "ConditionExpression": "#status = :expected AND userId = :owner",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":expected": task.status.value, ":owner": task.userId},
            }
        }
        self._writer.transact(
            [remove, *self._counters.count_deleted(task, now=utc_now())], stale=_CHANGED_WHILE_WRITTEN
        )

    def _queued(self, task: Task) -> list[dict[str, Any]]:
        """The task's entry in its owner's queue, written in the create's transaction (none without a queue)."""
        return [enqueue_item(self._queue_table, task)] if self._queue_table else []

    def backfill_list_keys(self, start: dict[str, Any] | None = None, *, limit: int = 200) -> BackfillPage:
        """One page of the maintenance pass that keys tasks stored before ``ByUserFilter`` (``backfill``)."""
        return backfill_page(self._tasks, self._writer, start=start, limit=limit)

    @tracer.capture_method
    def set_execution(self, video_id: str, execution_arn: str) -> None:
        """Record the task's execution. Raises ``StaleWriteError`` when the task does not exist."""
        self._writer.write(
            lambda: self._tasks.update_item(
                Key={"videoId": video_id},
                UpdateExpression="SET executionArn = :arn",
                ConditionExpression="attribute_exists(videoId)",
                ExpressionAttributeValues={":arn": execution_arn},
            ),
            stale=f"Task {video_id} does not exist",
        )

    @tracer.capture_method(capture_response=False)
    def transition(self, task: Task, target: TaskStatus, **changes: Any) -> Task:
        """Move ``task`` from the status it was read in to ``target``, setting ``changes`` too.

        Raises ``StaleWriteError`` when the stored task is no longer in ``task.status``, or when the
        lifecycle forbids the move (a terminal task never changes again).
        """
        if not can_transition(task.status, target):
            raise StaleWriteError(f"Task {task.videoId} cannot go from {task.status.value} to {target.value}")
        now = utc_now()
        fields: dict[str, Any] = {**changes, "status": target, "updatedAt": iso(now)}
        if target in TERMINAL_STATUSES:
            fields.setdefault("finishedAt", iso(now))
        if target is TaskStatus.COMPLETED:
            fields.setdefault("completedAt", iso(now))
        # The index keys move with the status (and a task stored before they existed gains them here).
        names, values, expression = set_expression({**fields, **list_keys(task, target)})
        update = {
            "Update": {
                "TableName": self._tasks.name,
                "Key": {"videoId": task.videoId},
                "UpdateExpression": expression,
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": {**names, "#status": "status"},
                "ExpressionAttributeValues": {**values, ":expected": task.status.value},
            }
        }
        # The owner's counters follow from the stream (functions/count_tasks), so a status change names only
        # its own task: two tasks' transitions never share an item. The rare refund (a task ending before a
        # provider took it) is the one other item, and it must go with the write that ends the task.
        refunded = self._usage.refund(task, target)
        self._writer.transact([update, *refunded], stale=_CHANGED_WHILE_WRITTEN)
        return task.model_copy(update=fields)

    @tracer.capture_method(capture_response=False)
    def set_poster(self, task: Task, poster_key: str) -> Task:
        """Record the poster of a COMPLETED video. Raises ``StaleWriteError`` unless the stored task is still
        COMPLETED with the very media the poster was made from (deleted meanwhile, say). Counts nothing, so
        no transaction; ``updatedAt`` moves, as every write a client may hear about does."""
        if task.status is not TaskStatus.COMPLETED or not task.mediaKey:
            raise StaleWriteError(f"Task {task.videoId} has no finished media to make a poster of")
        fields = {"posterKey": poster_key, "updatedAt": iso(utc_now())}
        names, values, expression = set_expression(fields)
        self._writer.write(
            lambda: self._tasks.update_item(
                Key={"videoId": task.videoId},
                UpdateExpression=expression,
                ConditionExpression="#status = :completed AND mediaKey = :media",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues={
                    **values,
                    ":completed": TaskStatus.COMPLETED.value,
                    ":media": task.mediaKey,
                },
            ),
            stale=f"Task {task.videoId} changed while its poster was made",
        )
        return task.model_copy(update=fields)

    @tracer.capture_method(capture_response=False)
    def update_running(self, task: Task, **changes: Any) -> Task:
        """Write progress and polling state of a task that stays in its status.

        The condition keeps progress monotonic and refuses to touch a task that left its status;
        an ended task is never touched at all.
        """
        if task.is_terminal:
            raise StaleWriteError(f"Task {task.videoId} has ended ({task.status.value}) and cannot change")
        fields = {**changes, "updatedAt": iso(utc_now())}
        names, values, expression = set_expression(fields)
        condition = "#status = :expected"
        values[":expected"] = task.status.value
        if "progress" in changes:
            condition += " AND progress <= :progress_floor"
            values[":progress_floor"] = changes["progress"]
        self._writer.write(
            lambda: self._tasks.update_item(
                Key={"videoId": task.videoId},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=values,
            ),
            stale=f"Task {task.videoId} changed while it was being updated",
        )
        return task.model_copy(update=fields)


class _Partition:
    """One ``ByUserFilter`` partition read newest first, strictly after ``after`` (a list key), in reads no
    larger than what the merge may still need from it."""

    def __init__(self, table: Any, key: str, after: str | None) -> None:
        self._table = table
        self._key = key
        self._after = after
        self.buffered: list[dict[str, Any]] = []
        self.exhausted = False

    def read(self, limit: int) -> None:
        condition: Any = Key(FILTER_KEY).eq(self._key)
        if self._after is not None:
            condition = condition & Key(LIST_KEY).lt(self._after)
        reply = self._table.query(
            IndexName="ByUserFilter", KeyConditionExpression=condition, ScanIndexForward=False, Limit=limit
        )
        items = reply.get("Items", [])
        self.buffered.extend(items)
        if items:
            self._after = str(items[-1][LIST_KEY])
        self.exhausted = "LastEvaluatedKey" not in reply

    @property
    def head(self) -> str | None:
        return str(self.buffered[0][LIST_KEY]) if self.buffered else None


def _merge_newest_first(partitions: list[_Partition], wanted: int) -> list[dict[str, Any]]:
    """The ``wanted`` newest items across ``partitions``.

    Every partition is read for a few items first. One that runs dry is read again, since it may hold the
    next item, for its share of what is still wanted (the share of the merged items it gave so far, at least
    ``_MERGE_SLACK``): the partition that holds most of the page is read for the rest at once, one that
    gave little is read for little. So a page reads what it returns, plus about ``_MERGE_SLACK`` per
    partition and what a read's estimate overshot, and never the tasks behind the page."""
    given = dict.fromkeys(range(len(partitions)), 0)
    for partition in partitions:
        partition.read(min(wanted, _MERGE_SLACK))
    merged: list[dict[str, Any]] = []
    while len(merged) < wanted:
        remaining = wanted - len(merged)
        for index, partition in enumerate(partitions):
            if not partition.buffered and not partition.exhausted:
                share = -(-remaining * given[index] // max(1, len(merged)))
                partition.read(min(remaining, max(_MERGE_SLACK, share)))
        live = [index for index, partition in enumerate(partitions) if partition.buffered]
        if not live:
            break
        newest = max(live, key=lambda index: partitions[index].head or "")
        merged.append(partitions[newest].buffered.pop(0))
        given[newest] += 1
    return merged
