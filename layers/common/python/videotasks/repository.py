"""The only module that talks to DynamoDB.

Every write to a task is conditional on the state the caller expects, and every status change
updates the caller's counters in the same transaction, so a retried or raced write can neither
resurrect a terminal task nor count twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from . import aws
from .errors import StaleWriteError
from .models import Task, TaskStatus, iso, parse_iso, utc_now
from .settings import Settings

STATUS_COUNTER = {status: status.value.lower() for status in TaskStatus}


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

    # writes ----------------------------------------------------------------------------------
    def create(self, task: Task) -> Task:
        """Insert a new QUEUED task and count it, in one transaction."""
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self._tasks.name,
                        "Item": _item(task),
                        "ConditionExpression": "attribute_not_exists(videoId)",
                    }
                },
                self._counter_update(task.userId, created=True, to_status=task.status),
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
        fields: dict[str, Any] = {**changes, "status": target.value, "updatedAt": iso(now)}
        if target is TaskStatus.COMPLETED:
            fields.setdefault("completedAt", iso(now))
        generation_seconds = None
        if target is TaskStatus.COMPLETED:
            generation_seconds = max(0, round((now - parse_iso(task.createdAt)).total_seconds()))
        update = self._set_expression(fields)
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._tasks.name,
                        "Key": {"videoId": task.videoId},
                        "UpdateExpression": update["expression"],
                        "ConditionExpression": "#status = :expected",
                        "ExpressionAttributeNames": {**update["names"], "#status": "status"},
                        "ExpressionAttributeValues": {**update["values"], ":expected": task.status.value},
                    }
                },
                self._counter_update(
                    task.userId, from_status=task.status, to_status=target, generation_seconds=generation_seconds
                ),
            ]
        )
        return task.model_copy(update={**changes, "status": target, "updatedAt": fields["updatedAt"]} | (
            {"completedAt": fields["completedAt"]} if "completedAt" in fields else {}
        ))

    def update_running(self, task: Task, **changes: Any) -> Task:
        """Write progress and polling state of a task that stays in its status.

        The condition keeps progress monotonic and refuses to touch a task that left its status.
        """
        fields = {**changes, "updatedAt": iso(utc_now())}
        update = self._set_expression(fields)
        condition = "#status = :expected"
        values = {**update["values"], ":expected": task.status.value}
        if "progress" in changes:
            condition += " AND progress <= :progress_floor"
            values[":progress_floor"] = changes["progress"]
        try:
            self._tasks.update_item(
                Key={"videoId": task.videoId},
                UpdateExpression=update["expression"],
                ConditionExpression=condition,
                ExpressionAttributeNames={**update["names"], "#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleWriteError(f"Task {task.videoId} changed while it was being updated") from exc
            raise
        return task.model_copy(update=fields)

    # statistics --------------------------------------------------------------------------------
    def get_stats(self, user_id: str) -> dict[str, Any]:
        item = self._stats.get_item(Key={"userId": user_id}, ConsistentRead=True).get("Item") or {}
        return _plain(item)

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _set_expression(fields: dict[str, Any]) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        parts: list[str] = []
        for index, (name, value) in enumerate(fields.items()):
            if hasattr(value, "model_dump"):
                value = value.model_dump(mode="json")
            elif hasattr(value, "value") and isinstance(getattr(value, "value"), str):
                value = value.value
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            parts.append(f"#f{index} = :v{index}")
        return {"expression": "SET " + ", ".join(parts), "names": names, "values": values}

    def _counter_update(
        self,
        user_id: str,
        *,
        created: bool = False,
        from_status: TaskStatus | None = None,
        to_status: TaskStatus,
        generation_seconds: int | None = None,
    ) -> dict[str, Any]:
        deltas: dict[str, int] = {STATUS_COUNTER[to_status]: 1}
        if created:
            deltas["total"] = 1
            deltas[f"created_{utc_now():%Y%m%d%H}"] = 1
        if from_status is not None:
            deltas[STATUS_COUNTER[from_status]] = deltas.get(STATUS_COUNTER[from_status], 0) - 1
        if generation_seconds is not None:
            deltas["generationSecondsSum"] = generation_seconds
        names = {f"#c{index}": name for index, name in enumerate(deltas)}
        values: dict[str, Any] = {f":d{index}": delta for index, delta in enumerate(deltas.values())}
        values[":now"] = iso(utc_now())
        adds = ", ".join(f"#c{index} :d{index}" for index in range(len(deltas)))
        return {
            "Update": {
                "TableName": self._stats.name,
                "Key": {"userId": user_id},
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
