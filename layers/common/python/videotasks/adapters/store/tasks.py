"""The only module that talks to DynamoDB.

Every write to a task is conditional on the state the caller expects, and every status change
updates the owner's counters in the same transaction, so a retried or raced write can neither
resurrect a terminal task nor count twice.

Stats table layout (key ``userId`` + ``bucket``): one ``TOTALS`` item of counters per user, and one
item per hour of task creation (``H#YYYYMMDDHH``, expiring after two days) for "last 24 hours".
"""

from __future__ import annotations

import enum
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from videotasks.adapters import aws
from videotasks.domain.errors import ConflictError, NotFoundError, StaleWriteError, TaskStoreBusyError
from videotasks.domain.lifecycle import can_transition
from videotasks.domain.models import Task, TaskStatus, TaskType, iso, parse_iso, utc_now
from videotasks.settings import Settings

logger = Logger(child=True)

TOTALS = "TOTALS"
HOUR_BUCKET_PREFIX = "H#"
HOUR_BUCKET_TTL = timedelta(days=2)
MAX_QUERY_PAGES = 10  # bounds the read cost of one listing page when filters skip many items

# A write DynamoDB refuses for a moment is tried again this many times in all, after a pause drawn at
# random below 50, 100, 200, 400 ms ("full jitter"): at most 0.75 s of waiting, well inside any caller's
# time budget, and writers that collided do not collide again in step.
WRITE_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 0.4

_Result = TypeVar("_Result")


class Refusal(enum.Enum):
    """Why DynamoDB refused a write, as far as what to do next is concerned."""

    STALE = "stale"  # a condition failed: the item moved on; retrying cannot succeed
    BUSY = "busy"  # a transaction conflict or throttling: nothing was written; the same write may succeed soon
    UNKNOWN = "unknown"  # anything else (a malformed request, a missing table): not ours to hide


# Cancellation reasons (per item of a transaction) that say "not now" rather than "not so". ``None`` is
# DynamoDB's reason for the items that did not cause the cancellation.
_PASSING_REASONS = {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_PASSING_REASONS |= {"RequestLimitExceeded", "InternalServerError"}
# Error codes of a whole request, after botocore's own retries gave up on the throttling ones.
_BUSY_CODES = {"TransactionConflictException", "TransactionInProgressException", "ThrottlingException"}
_BUSY_CODES |= {"ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError"}


def refusal(error: ClientError) -> Refusal:
    """The one place that reads DynamoDB's refusals.

    DynamoDB cancels a transaction for many reasons, one per item (``CancellationReasons``); only
    ``ConditionalCheckFailed`` means the item moved on. ``TransactionConflict`` (another transaction holds
    one of the items, e.g. the owner's counters that every task of theirs updates) and throttling mean the
    write may go through on another try. A single-item write meets the same as
    ``TransactionConflictException`` while a transaction holds its item.
    """
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return Refusal.STALE
    if code in _BUSY_CODES:
        return Refusal.BUSY
    if code != "TransactionCanceledException":
        return Refusal.UNKNOWN
    reasons = {str(reason.get("Code")) for reason in error.response.get("CancellationReasons") or []}
    if not reasons:  # a client that did not parse them: DynamoDB lists the codes in the message too
        listed = str(error.response.get("Error", {}).get("Message", "")).rpartition("[")[2].rstrip("]")
        reasons = {part.strip() for part in listed.split(",") if part.strip()}
    if "ConditionalCheckFailed" in reasons:
        return Refusal.STALE
    if reasons and reasons <= _PASSING_REASONS and reasons != {"None"}:
        return Refusal.BUSY
    return Refusal.UNKNOWN


def _plain(value: Any) -> Any:
    """DynamoDB gives numbers back as Decimal; the model wants ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _dynamo(value: Any) -> Any:
    """boto3 refuses Python floats: send JSON numbers to DynamoDB as Decimal."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dynamo(item) for item in value]
    return value


def _item(task: Task) -> dict[str, Any]:
    return {key: _dynamo(value) for key, value in task.model_dump(mode="json").items() if value is not None}


def _stored(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return _dynamo(value.model_dump(mode="json"))
    if isinstance(value, TaskStatus | TaskType):
        return value.value
    return _dynamo(value)


def counter_names(status: TaskStatus, task_type: TaskType) -> tuple[str, str]:
    """The two counters a task in ``status`` contributes to: per status, and per type and status."""
    return status.value.lower(), f"{task_type.value.lower()}_{status.value.lower()}"


def hour_bucket(moment: datetime) -> str:
    return f"{HOUR_BUCKET_PREFIX}{moment:%Y%m%d%H}"


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
        self._stats = self._dynamodb.Table(settings.stats_table)
        self._client = self._dynamodb.meta.client
        self._pause = pause

    # reads -----------------------------------------------------------------------------------
    def get(self, video_id: str) -> Task | None:
        item = self._tasks.get_item(Key={"videoId": video_id}, ConsistentRead=True).get("Item")
        return Task.model_validate(_plain(item)) if item else None

    def external_id_claimed(self, external_id: str) -> bool:
        """Whether some task already holds this provider job id (ByExternalTaskId index)."""
        reply = self._tasks.query(
            IndexName="ByExternalTaskId",
            KeyConditionExpression="externalTaskId = :id",
            ExpressionAttributeValues={":id": external_id},
            Limit=1,
        )
        return bool(reply.get("Items"))

    def get_owned(self, video_id: str, user_id: str) -> Task | None:
        """The task when ``user_id`` owns it; another user's task is indistinguishable from none."""
        task = self.get(video_id)
        return task if task and task.userId == user_id else None

    def list_owned(
        self,
        user_id: str,
        *,
        limit: int,
        status: TaskStatus | None = None,
        task_type: TaskType | None = None,
        start: dict[str, Any] | None = None,
    ) -> TaskPage:
        """Newest first, up to ``limit`` tasks matching the filters, from a Query on ``ByUser``.

        DynamoDB applies filters after reading, so a page is followed by the next one until
        ``limit`` matches are found, bounded by ``MAX_QUERY_PAGES`` reads.
        """
        query: dict[str, Any] = {
            "IndexName": "ByUser",
            "KeyConditionExpression": Key("userId").eq(user_id),
            "ScanIndexForward": False,
        }
        condition: Any = None
        if status is not None:
            condition = Attr("status").eq(status.value)
        if task_type is not None:
            type_condition = Attr("type").eq(task_type.value)
            condition = type_condition if condition is None else condition & type_condition
        if condition is not None:
            query["FilterExpression"] = condition
        items: list[Task] = []
        position = start
        for _ in range(MAX_QUERY_PAGES):
            if position:
                query["ExclusiveStartKey"] = position
            # One item beyond the page tells whether there is a next page without a wasted request.
            wanted = limit + 1 - len(items)
            reply = self._tasks.query(**query, Limit=wanted if condition is None else max(wanted * 4, 25))
            items.extend(Task.model_validate(_plain(raw)) for raw in reply.get("Items", []))
            if len(items) > limit:
                return TaskPage(items[:limit], self.position_of(items[limit - 1]))
            position = reply.get("LastEvaluatedKey")
            if not position:
                return TaskPage(items, None)
        return TaskPage(items, _plain(position))

    @staticmethod
    def position_of(task: Task) -> dict[str, Any]:
        return {"videoId": task.videoId, "userId": task.userId, "createdAt": task.createdAt}

    def get_counters(self, user_id: str, now: datetime) -> tuple[dict[str, Any], int]:
        """The user's counters and the number of tasks created in the 24 hours before ``now``."""
        totals = self._stats.get_item(Key={"userId": user_id, "bucket": TOTALS}, ConsistentRead=True).get("Item") or {}
        hours = self._stats.query(
            KeyConditionExpression=Key("userId").eq(user_id)
            & Key("bucket").between(hour_bucket(now - timedelta(hours=23)), hour_bucket(now)),
            ConsistentRead=True,
        ).get("Items", [])
        return _plain(totals), sum(int(item.get("created", 0)) for item in hours)

    # writes ----------------------------------------------------------------------------------
    def create(self, task: Task) -> Task:
        """Insert a new QUEUED task and count it, in one transaction."""
        created = parse_iso(task.createdAt)
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self._tasks.name,
                        "Item": _item(task),
                        "ConditionExpression": "attribute_not_exists(videoId)",
                    }
                },
                self._counter_update(task, created=True, to_status=task.status),
                {
                    "Update": {
                        "TableName": self._stats.name,
                        "Key": {"userId": task.userId, "bucket": hour_bucket(created)},
                        "UpdateExpression": "ADD created :one SET expiresAt = :expires",
                        "ExpressionAttributeValues": {
                            ":one": 1,
                            ":expires": int((created + HOUR_BUCKET_TTL).timestamp()),
                        },
                    }
                },
            ]
        )
        return task

    def set_execution(self, video_id: str, execution_arn: str) -> None:
        """Record the task's execution. Raises ``StaleWriteError`` when the task does not exist."""
        self._write(
            lambda: self._tasks.update_item(
                Key={"videoId": video_id},
                UpdateExpression="SET executionArn = :arn",
                ConditionExpression="attribute_exists(videoId)",
                ExpressionAttributeValues={":arn": execution_arn},
            ),
            stale=f"Task {video_id} does not exist",
        )

    def transition(self, task: Task, target: TaskStatus, **changes: Any) -> Task:
        """Move ``task`` from the status it was read in to ``target``, setting ``changes`` too.

        Raises ``StaleWriteError`` when the stored task is no longer in ``task.status``, or when the
        lifecycle forbids the move (a terminal task never changes again).
        """
        if not can_transition(task.status, target):
            raise StaleWriteError(f"Task {task.videoId} cannot go from {task.status.value} to {target.value}")
        now = utc_now()
        fields: dict[str, Any] = {**changes, "status": target, "updatedAt": iso(now)}
        generation_seconds = None
        if target is TaskStatus.COMPLETED:
            fields.setdefault("completedAt", iso(now))
            generation_seconds = round(task.model_copy(update=fields).generation_seconds or 0)
        names, values, expression = self._set_expression(fields)
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._tasks.name,
                        "Key": {"videoId": task.videoId},
                        "UpdateExpression": expression,
                        "ConditionExpression": "#status = :expected",
                        "ExpressionAttributeNames": {**names, "#status": "status"},
                        "ExpressionAttributeValues": {**values, ":expected": task.status.value},
                    }
                },
                self._counter_update(
                    task, from_status=task.status, to_status=target, generation_seconds=generation_seconds
                ),
            ]
        )
        return task.model_copy(update=fields)

    def update_running(self, task: Task, **changes: Any) -> Task:
        """Write progress and polling state of a task that stays in its status.

        The condition keeps progress monotonic and refuses to touch a task that left its status;
        an ended task is never touched at all.
        """
        if task.is_terminal:
            raise StaleWriteError(f"Task {task.videoId} has ended ({task.status.value}) and cannot change")
        fields = {**changes, "updatedAt": iso(utc_now())}
        names, values, expression = self._set_expression(fields)
        condition = "#status = :expected"
        values[":expected"] = task.status.value
        if "progress" in changes:
            condition += " AND progress <= :progress_floor"
            values[":progress_floor"] = changes["progress"]
        self._write(
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

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _set_expression(fields: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any], str]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        parts: list[str] = []
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = _stored(value)
            parts.append(f"#f{index} = :v{index}")
        return names, values, "SET " + ", ".join(parts)

    def _counter_update(
        self,
        task: Task,
        *,
        created: bool = False,
        from_status: TaskStatus | None = None,
        to_status: TaskStatus,
        generation_seconds: int | None = None,
    ) -> dict[str, Any]:
        deltas: dict[str, int] = {}
        for name in counter_names(to_status, task.type):
            deltas[name] = deltas.get(name, 0) + 1
        if from_status is not None:
            for name in counter_names(from_status, task.type):
                deltas[name] = deltas.get(name, 0) - 1
        if created:
            deltas["total"] = 1
            deltas[f"{task.type.value.lower()}_total"] = 1
        if generation_seconds is not None:
            deltas["generationSecondsSum"] = generation_seconds
        names = {f"#c{index}": name for index, name in enumerate(deltas)}
        values: dict[str, Any] = {f":d{index}": delta for index, delta in enumerate(deltas.values())}
        values[":now"] = iso(utc_now())
        adds = ", ".join(f"#c{index} :d{index}" for index in range(len(deltas)))
        return {
            "Update": {
                "TableName": self._stats.name,
                "Key": {"userId": task.userId, "bucket": TOTALS},
                "UpdateExpression": f"ADD {adds} SET updatedAt = :now",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One transaction, tried again while DynamoDB refuses it for a moment.

        Each attempt carries a ClientRequestToken, which botocore's own retries of that attempt (after a
        timeout or a 500) send again, so DynamoDB applies it at most once. After a cancellation nothing was
        applied, and the next attempt takes a new token: a cancelled one is not worth repeating.
        """
        token = str(uuid.uuid4())

        def attempt() -> None:
            nonlocal token
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                    token = str(uuid.uuid4())
                raise

        self._write(attempt, stale="The task changed while it was being written")

    def _write(self, write: Callable[[], _Result], *, stale: str) -> _Result:
        """Run ``write``, again after a short random pause while DynamoDB is busy (``WRITE_ATTEMPTS`` in all).

        Raises ``StaleWriteError`` (with ``stale``) when a condition failed, and ``TaskStoreBusyError`` when
        DynamoDB was still busy at the last attempt.
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return write()
            except ClientError as exc:
                why = refusal(exc)
                if why is Refusal.STALE:
                    raise StaleWriteError(stale) from exc
                if why is Refusal.UNKNOWN:
                    raise
                # Logged, since a hot item (one user's counters) shows here first, long before it fails anything.
                refused = {"attempt": attempt + 1, "dynamodbError": exc.response.get("Error", {}).get("Code")}
                if attempt == WRITE_ATTEMPTS - 1:
                    logger.warning("DynamoDB stayed busy; the write is given up for now", extra=refused)
                    raise TaskStoreBusyError() from exc
                logger.info("DynamoDB refused a write for a moment; trying again", extra=refused)
                self._pause(random.uniform(0, min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**attempt)))
        raise AssertionError("unreachable: the last attempt returns or raises")


# ------------------------------------------------------------------------------------------------
# WebSocket connections

CONNECTION_TTL = timedelta(hours=2, minutes=10)  # API Gateway closes every connection within 2 hours


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    subscriptions: frozenset[str]  # videoIds followed one by one
    all_tasks: bool  # follows every task of the user

    def follows(self, video_id: str) -> bool:
        return self.all_tasks or video_id in self.subscriptions


class ConnectionRepository:
    """Open WebSocket connections and what each one follows.

    Item: ``connectionId``, ``userId``, ``subscriptions`` (a string set of videoIds, absent when empty since
    DynamoDB has no empty sets), ``allTasks``, ``connectedAt``, ``expiresAt`` (TTL). TTL only collects
    items whose ``$disconnect`` never ran; a live connection is never filtered by it, and a stale item is
    deleted the first time a post to it answers 410 Gone. Every write to an existing connection is
    conditional on it still being there and belonging to the caller.
    """

    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._table = self._dynamodb.Table(settings.connections_table)

    def add(self, connection_id: str, user_id: str, now: datetime) -> None:
        self._table.put_item(
            Item={
                "connectionId": connection_id,
                "userId": user_id,
                "allTasks": False,
                "connectedAt": iso(now),
                "expiresAt": _connection_expiry(now),
            }
        )

    def remove(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connectionId": connection_id})

    def get(self, connection_id: str) -> Connection | None:
        item = self._table.get_item(Key={"connectionId": connection_id}, ConsistentRead=True).get("Item")
        return _connection(item) if item else None

    def follow(
        self, connection_id: str, user_id: str, now: datetime, *, video_id: str | None, max_subscriptions: int
    ) -> None:
        """Follow one task, or with ``video_id=None`` every task of the user.

        Raises ``NotFoundError`` when the connection is not registered to ``user_id`` and ``ConflictError``
        when it already follows ``max_subscriptions`` tasks one by one.
        """
        values: dict[str, Any] = {":user": user_id, ":expires": _connection_expiry(now)}
        condition = "attribute_exists(connectionId) AND userId = :user"
        if video_id is None:
            expression = "SET allTasks = :true, expiresAt = :expires"
            values[":true"] = True
        else:
            expression = "ADD subscriptions :ids SET expiresAt = :expires"
            condition += (
                " AND (attribute_not_exists(subscriptions) OR size(subscriptions) < :max"
                " OR contains(subscriptions, :id))"
            )
            values.update({":ids": {video_id}, ":id": video_id, ":max": max_subscriptions})
        if not self._update_connection(connection_id, expression, condition, values):
            current = self.get(connection_id)
            if current is None or current.user_id != user_id:
                raise NotFoundError(f"Connection {connection_id} is not registered")
            raise ConflictError(f"A connection follows at most {max_subscriptions} tasks one by one")

    def unfollow(self, connection_id: str, user_id: str, now: datetime, *, video_id: str | None) -> None:
        """Stop following one task, or with ``video_id=None`` everything. Raises ``NotFoundError`` when
        the connection is not registered to ``user_id``."""
        values: dict[str, Any] = {":user": user_id, ":expires": _connection_expiry(now)}
        if video_id is None:
            expression = "SET allTasks = :false, expiresAt = :expires REMOVE subscriptions"
            values[":false"] = False
        else:
            expression = "DELETE subscriptions :ids SET expiresAt = :expires"
            values[":ids"] = {video_id}
        condition = "attribute_exists(connectionId) AND userId = :user"
        if not self._update_connection(connection_id, expression, condition, values):
            raise NotFoundError(f"Connection {connection_id} is not registered")

    def touch(self, connection_id: str, now: datetime) -> bool:
        """Push the connection's expiry back; False when it is not registered (any more)."""
        return self._update_connection(
            connection_id,
            "SET expiresAt = :expires",
            "attribute_exists(connectionId)",
            {":expires": _connection_expiry(now)},
        )

    def subscribers(self, user_id: str, video_id: str) -> list[str]:
        """Ids of the user's connections that follow ``video_id``: a Query on ``ByUser``, never a Scan."""
        query: dict[str, Any] = {
            "IndexName": "ByUser",
            "KeyConditionExpression": Key("userId").eq(user_id),
            "FilterExpression": Attr("allTasks").eq(True) | Attr("subscriptions").contains(video_id),
            "ProjectionExpression": "connectionId",
        }
        found: list[str] = []
        while True:
            reply = self._table.query(**query)
            found.extend(str(item["connectionId"]) for item in reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return sorted(found)
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _update_connection(self, connection_id: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._table.update_item(
                Key={"connectionId": connection_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _connection_expiry(now: datetime) -> int:
    return int((now + CONNECTION_TTL).timestamp())


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=str(item["connectionId"]),
        user_id=str(item["userId"]),
        subscriptions=frozenset(str(video_id) for video_id in item.get("subscriptions") or ()),
        all_tasks=bool(item.get("allTasks")),
    )


def task_from_image(image: dict[str, Any]) -> Task:
    """A task from a stream record's (already deserialised) NewImage or OldImage."""
    return Task.model_validate(_plain(image))
