"""The only module that talks to DynamoDB.

Every write to a task is conditional on the state the caller expects, and every status change
updates the owner's counters in the same transaction, so a retried or raced write can neither
resurrect a terminal task nor count twice.

Stats table layout (key ``userId`` + ``bucket``): one ``TOTALS`` item of counters per user, and one
item per hour of task creation (``H#YYYYMMDDHH``, expiring after two days) for "last 24 hours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from . import aws
from .errors import StaleWriteError
from .models import Task, TaskStatus, TaskType, iso, parse_iso, utc_now
from .settings import Settings

TOTALS = "TOTALS"
HOUR_BUCKET_PREFIX = "H#"
HOUR_BUCKET_TTL = timedelta(days=2)
MAX_QUERY_PAGES = 10  # bounds the read cost of one listing page when filters skip many items


def _plain(value: Any) -> Any:
    """DynamoDB gives numbers back as Decimal; the model wants ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _item(task: Task) -> dict[str, Any]:
    return {key: value for key, value in task.model_dump(mode="json").items() if value is not None}


def _stored(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, TaskStatus | TaskType):
        return value.value
    return value


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
    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._tasks = self._dynamodb.Table(settings.tasks_table)
        self._stats = self._dynamodb.Table(settings.stats_table)
        self._client = self._dynamodb.meta.client

    # reads -----------------------------------------------------------------------------------
    def get(self, video_id: str) -> Task | None:
        item = self._tasks.get_item(Key={"videoId": video_id}, ConsistentRead=True).get("Item")
        return Task.model_validate(_plain(item)) if item else None

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
        self._tasks.update_item(
            Key={"videoId": video_id},
            UpdateExpression="SET executionArn = :arn",
            ConditionExpression="attribute_exists(videoId)",
            ExpressionAttributeValues={":arn": execution_arn},
        )

    def transition(self, task: Task, target: TaskStatus, **changes: Any) -> Task:
        """Move ``task`` from the status it was read in to ``target``, setting ``changes`` too.

        Raises ``StaleWriteError`` when the stored task is no longer in ``task.status``.
        """
        now = utc_now()
        fields: dict[str, Any] = {**changes, "status": target, "updatedAt": iso(now)}
        generation_seconds = None
        if target is TaskStatus.COMPLETED:
            fields.setdefault("completedAt", iso(now))
            generation_seconds = max(0, round((now - parse_iso(task.createdAt)).total_seconds()))
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

        The condition keeps progress monotonic and refuses to touch a task that left its status.
        """
        fields = {**changes, "updatedAt": iso(utc_now())}
        names, values, expression = self._set_expression(fields)
        condition = "#status = :expected"
        values[":expected"] = task.status.value
        if "progress" in changes:
            condition += " AND progress <= :progress_floor"
            values[":progress_floor"] = changes["progress"]
        try:
            self._tasks.update_item(
                Key={"videoId": task.videoId},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleWriteError(f"Task {task.videoId} changed while it was being updated") from exc
            raise
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
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"TransactionCanceledException", "ConditionalCheckFailedException"}:
                raise StaleWriteError("The task changed while it was being written") from exc
            raise
