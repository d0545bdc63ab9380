"""The queue table: per user, the slots item (a string set ``running`` of the tasks at the provider) and one
entry per waiting task, sorted by ``videotasks.domain.queue.entry_key`` so a Query reads the queue in order.

Every count is a conditional write: taking a slot is one transaction that checks the task is still QUEUED,
adds it to ``running`` only while the set is short of the limit (or already holds it: a retried admission
takes nothing twice) and removes its entry. Releasing is a set DELETE, idempotent too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from videotasks.adapters import aws
from videotasks.adapters.store.items import plain
from videotasks.adapters.store.writes import ConditionalWriter
from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Task, TaskStatus
from videotasks.domain.queue import ENTRY_PREFIX, SLOTS_KEY, entry_key
from videotasks.settings import Settings


@dataclass(frozen=True)
class Waiting:
    """One waiting task as its queue entry holds it."""

    video_id: str
    entry: str
    token: str | None  # its execution's wait for a slot, once parked
    position: int | None  # the queuePosition last written to its task


def enqueue_item(table_name: str, task: Task) -> dict[str, Any]:
    """The transaction item that puts ``task`` in its owner's queue: written with the task itself, so no
    task exists without its entry."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": {"userId": task.userId, "entry": entry_key(task), "videoId": task.videoId},
            "ConditionExpression": "attribute_not_exists(#entry)",
            "ExpressionAttributeNames": {"#entry": "entry"},
        }
    }


class QueueStore:
    def __init__(
        self, settings: Settings, *, dynamodb: Any | None = None, pause: Callable[[float], None] = time.sleep
    ) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._table = self._dynamodb.Table(settings.queue_table)
        self._tasks_table = settings.tasks_table
        self._writer = ConditionalWriter(self._dynamodb.meta.client, pause=pause)

    # reads ---------------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def running(self, user_id: str) -> set[str]:
        """The user's tasks holding a slot (a consistent read: admission and release both decide on it)."""
        item = self._table.get_item(Key={"userId": user_id, "entry": SLOTS_KEY}, ConsistentRead=True).get("Item")
        return set((item or {}).get("running") or ())

    @tracer.capture_method(capture_response=False)
    def waiting(self, user_id: str, limit: int) -> list[Waiting]:
        """The first ``limit`` waiting tasks of the user, in queue order (one consistent Query page)."""
        reply = self._table.query(
            KeyConditionExpression=Key("userId").eq(user_id) & Key("entry").begins_with(ENTRY_PREFIX),
            ConsistentRead=True,
            Limit=limit,
        )
        return [
            Waiting(
                video_id=str(item["videoId"]),
                entry=str(item["entry"]),
                token=item.get("token"),
                position=plain(item["position"]) if "position" in item else None,
            )
            for item in reply.get("Items", [])
        ]

    # writes --------------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def park(self, task: Task, token: str) -> bool:
        """Leave the execution's task token on the task's entry; False when the task has no entry."""
        try:
            self._writer.write(
                lambda: self._table.update_item(
                    Key={"userId": task.userId, "entry": entry_key(task)},
                    UpdateExpression="SET #token = :token",
                    ConditionExpression="attribute_exists(#entry)",
                    ExpressionAttributeNames={"#token": "token", "#entry": "entry"},
                    ExpressionAttributeValues={":token": token},
                ),
                stale="no queue entry",
            )
        except StaleWriteError:
            return False
        return True

    @tracer.capture_method(capture_response=False)
    def restore(self, task: Task) -> None:
        """Put back the entry of a QUEUED task that has none (one created before the queue existed)."""
        item = enqueue_item(self._table.name, task)["Put"]
        try:
            self._writer.write(lambda: self._dynamodb.meta.client.put_item(**item), stale="already queued")
        except StaleWriteError:
            pass

    @tracer.capture_method(capture_response=False)
    def take_slot(self, task: Task, limit: int) -> None:
        """Admit ``task``: one of ``limit`` slots, its entry gone, only while it is still QUEUED. Raises
        ``StaleWriteError`` when the slots are full or the task left QUEUED meanwhile."""
        items = [
            {
                "ConditionCheck": {
                    "TableName": self._tasks_table,
                    "Key": {"videoId": task.videoId},
                    "ConditionExpression": "#status = :queued",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":queued": TaskStatus.QUEUED.value},
                }
            },
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"userId": task.userId, "entry": SLOTS_KEY},
                    "UpdateExpression": "ADD running :ids",
                    "ConditionExpression": "attribute_not_exists(running) OR size(running) < :limit "
                    "OR contains(running, :id)",
                    "ExpressionAttributeValues": {":ids": {task.videoId}, ":limit": limit, ":id": task.videoId},
                }
            },
            {"Delete": {"TableName": self._table.name, "Key": {"userId": task.userId, "entry": entry_key(task)}}},
        ]
        self._writer.transact(items, stale=f"No slot for {task.videoId}, or it left QUEUED")

    @tracer.capture_method(capture_response=False)
    def release(self, task: Task) -> None:
        """``task`` ended: its slot (if it held one) and its entry (if it still waited) go. Both idempotent."""
        self._writer.write(
            lambda: self._table.update_item(
                Key={"userId": task.userId, "entry": SLOTS_KEY},
                UpdateExpression="DELETE running :ids",
                ExpressionAttributeValues={":ids": {task.videoId}},
            ),
            stale="unreachable: unconditional",
        )
        self._writer.write(
            lambda: self._table.delete_item(Key={"userId": task.userId, "entry": entry_key(task)}),
            stale="unreachable: unconditional",
        )

    @tracer.capture_method(capture_response=False)
    def set_position(self, user_id: str, waiting: Waiting, position: int) -> bool:
        """Show ``position`` on the waiting task (only while it is QUEUED), then remember it on the entry.
        False when the task has left QUEUED."""
        try:
            self._writer.write(
                lambda: self._dynamodb.meta.client.update_item(
                    TableName=self._tasks_table,
                    Key={"videoId": waiting.video_id},
                    UpdateExpression="SET queuePosition = :position",
                    ConditionExpression="#status = :queued",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":position": position, ":queued": TaskStatus.QUEUED.value},
                ),
                stale="left the queue",
            )
            self._writer.write(
                lambda: self._table.update_item(
                    Key={"userId": user_id, "entry": waiting.entry},
                    UpdateExpression="SET #position = :position",
                    ConditionExpression="attribute_exists(#entry)",
                    ExpressionAttributeNames={"#position": "position", "#entry": "entry"},
                    ExpressionAttributeValues={":position": position},
                ),
                stale="left the queue",
            )
        except StaleWriteError:
            return False
        return True
