"""Per-user task counters, behind ``/stats`` and the listings' totals.

Stats table layout (key ``userId`` + ``bucket``): one ``TOTALS`` item of counters per user, and one
item per hour of task creation (``H#YYYYMMDDHH``, expiring after two days) for "last 24 hours". The
counters' names are this module's business: the rest of the code reads them as a ``UserCounters``.

``TOTALS`` is written by the tasks stream's aggregator only (``functions/count_tasks``), never in a task's
own transaction: every task of a user would otherwise meet every other one on that item
(``TransactionConflict``). Each stream record is counted once: its ``eventID`` joins the set ``events`` of
the task's ``COUNTED#<videoId>`` item in the same transaction as the ADDs, on condition it is not there yet
(the item expires two days after its last record; stream records live one). The hour buckets stay in the
create's and the delete's transactions: creates are serialised per user by the rate-limit item anyway.

Per model (key ``MODEL#<model id>`` + ``GENERATION_TIMES``; no user's item has that bucket, so no user id can
meet it), the generation times of its completed videos for the polling policy: a histogram over
``polling.DURATION_BUCKETS`` (``b00``..``b36``) with ``completed`` and ``secondsSum``. Only ADDs: concurrent
completions commute and none is lost, without a read before the write (an average kept up to date would
need one, and a median or a 90th percentile cannot be kept that way at all). The histogram never forgets;
a model that changes speed moves its quantiles only as fast as new completions outweigh the old.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from videotasks.adapters.store.items import plain
from videotasks.adapters.store.writes import ConditionalWriter
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Task, TaskStatus, TaskType, iso, parse_iso, utc_now
from videotasks.domain.polling import Histogram, duration_bucket

TOTALS = "TOTALS"
HOUR_BUCKET_PREFIX = "H#"
HOUR_BUCKET_TTL = timedelta(days=2)
COUNTED_PREFIX = "COUNTED#"
# A stream record is delivered again at most a day after it was written (the stream keeps it 24 h), so the
# ids of the records counted for a task need to be kept a day past the last one; two, to be safe.
COUNTED_TTL = timedelta(days=2)
MODEL_PREFIX = "MODEL#"
GENERATION_TIMES = "GENERATION_TIMES"
_TIME_BUCKET_PREFIX = "b"


@dataclass(frozen=True)
class UserCounters:
    """One user's tasks, counted."""

    total: int
    by_status: Mapping[TaskStatus, int]
    by_type: Mapping[TaskType, int]  # every task ever created, per type
    by_type_and_status: Mapping[tuple[TaskType, TaskStatus], int]
    generation_seconds: int  # summed over the COMPLETED tasks
    created_last_day: int  # tasks created in the 24 hours before the read
    updated_at: str | None

    @classmethod
    def of_stored(cls, totals: Mapping[str, Any], created_last_day: int) -> UserCounters:
        def count(name: str) -> int:
            return int(totals.get(name, 0))

        return cls(
            total=count("total"),
            by_status={status: count(_status_counter(status)) for status in TaskStatus},
            by_type={kind: count(_type_counter(kind)) for kind in TaskType},
            by_type_and_status={
                (kind, status): count(_type_status_counter(kind, status)) for kind in TaskType for status in TaskStatus
            },
            generation_seconds=count("generationSecondsSum"),
            created_last_day=created_last_day,
            updated_at=totals.get("updatedAt"),
        )

    def matching(self, status: TaskStatus | None, task_type: TaskType | None) -> int:
        """How many tasks have ``status`` and ``task_type``; ``None`` matches any."""
        if status is not None and task_type is not None:
            return self.by_type_and_status[task_type, status]
        if status is not None:
            return self.by_status[status]
        if task_type is not None:
            return self.by_type[task_type]
        return self.total


class CountersTable:
    """The stats table: the hour buckets counted in the transactions that create and delete tasks, the
    aggregator's idempotent update of the totals, and the read of one user's counters."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._writer = ConditionalWriter(table.meta.client)

    def read(self, user_id: str, now: datetime) -> tuple[dict[str, Any], int]:
        """The user's counters item as stored, and the number of tasks created in the 24 hours before ``now``."""
        totals = self._table.get_item(Key={"userId": user_id, "bucket": TOTALS}, ConsistentRead=True).get("Item") or {}
        hours = self._table.query(
            KeyConditionExpression=Key("userId").eq(user_id)
            & Key("bucket").between(_hour_bucket(now - timedelta(hours=23)), _hour_bucket(now)),
            ConsistentRead=True,
        ).get("Items", [])
        return plain(totals), sum(int(item.get("created", 0)) for item in hours)

    def read_totals(self, user_id: str) -> dict[str, Any]:
        """The user's ``TOTALS`` item as stored (one GetItem): what a listing's ``total`` needs, without the
        hour buckets only ``/stats`` shows."""
        item = self._table.get_item(Key={"userId": user_id, "bucket": TOTALS}, ConsistentRead=True).get("Item")
        return dict(plain(item or {}))

    def read_generation_times(self, model: str) -> Histogram:
        """The model's completed generation times (an eventually consistent read: one completion more or
        less does not move a quantile)."""
        item = self._table.get_item(Key=_model_key(model)).get("Item") or {}
        return Histogram(
            {
                int(name[len(_TIME_BUCKET_PREFIX) :]): int(count)
                for name, count in item.items()
                if name.startswith(_TIME_BUCKET_PREFIX) and name[len(_TIME_BUCKET_PREFIX) :].isdigit()
            }
        )

    def record_generation_time(self, model: str, seconds: float) -> None:
        """Count one completed generation of ``seconds`` for ``model``, in one atomic UpdateItem."""
        self._table.update_item(
            Key=_model_key(model),
            UpdateExpression="ADD #bucket :one, completed :one, secondsSum :seconds SET updatedAt = :now",
            ExpressionAttributeNames={"#bucket": f"{_TIME_BUCKET_PREFIX}{duration_bucket(seconds):02d}"},
            ExpressionAttributeValues={":one": 1, ":seconds": max(0, round(seconds)), ":now": iso(utc_now())},
        )

    def count_created(self, tasks: Sequence[Task]) -> list[dict[str, Any]]:
        """Transaction items that count new tasks of one user in their hour of creation. One item per key,
        the increments summed: a transaction may name an item only once. (Their status and type are counted
        by the aggregator, from the INSERT records.)"""
        return self._count_new(tasks, utc_now(), imported=False)

    def count_imported(self, tasks: Sequence[Task], *, now: datetime) -> list[dict[str, Any]]:
        """Transaction items that count tasks of one user arriving already ended (another backend's
        history) in their hour of creation, only while that hour's item would still live
        (``count_deleted``'s rule): an older hour would be written already expired. The aggregator counts
        the rest from their INSERT records, a completed task's generation seconds included."""
        return self._count_new(tasks, now, imported=True)

    def _count_new(self, tasks: Sequence[Task], now: datetime, *, imported: bool) -> list[dict[str, Any]]:
        hours: dict[str, tuple[int, datetime]] = {}
        for task in tasks:
            created = parse_iso(task.createdAt)
            if imported and now - created >= HOUR_BUCKET_TTL:
                continue
            count, _ = hours.get(_hour_bucket(created), (0, created))
            hours[_hour_bucket(created)] = (count + 1, created)
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"userId": tasks[0].userId, "bucket": bucket},
                    "UpdateExpression": "ADD created :count SET expiresAt = :expires",
                    "ExpressionAttributeValues": {
                        ":count": count,
                        ":expires": int((created + HOUR_BUCKET_TTL).timestamp()),
                    },
                }
            }
            for bucket, (count, created) in hours.items()
        ]

    def count_deleted(self, task: Task, *, now: datetime) -> list[dict[str, Any]]:
        """Transaction items that uncount a deleted task from its hour of creation (the aggregator uncounts
        the rest from the REMOVE record). Uncounted only while that hour's item lives (``HOUR_BUCKET_TTL``);
        should it be gone, the item made anew expires as the old one would have."""
        items: list[dict[str, Any]] = []
        created = parse_iso(task.createdAt)
        if now - created < HOUR_BUCKET_TTL:
            items.append(
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": {"userId": task.userId, "bucket": _hour_bucket(created)},
                        "UpdateExpression": "ADD created :minus_one SET expiresAt = if_not_exists(expiresAt, :expires)",
                        "ExpressionAttributeValues": {
                            ":minus_one": -1,
                            ":expires": int((created + HOUR_BUCKET_TTL).timestamp()),
                        },
                    }
                }
            )
        return items

    def count_change(
        self, user_id: str, video_id: str, event_id: str, deltas: Mapping[str, int], *, now: datetime
    ) -> bool:
        """Add ``deltas`` (``change_deltas``) to the user's totals unless the stream record ``event_id`` of
        task ``video_id`` was counted already; whether it was counted now. One transaction: the record's id
        joins the task's ``COUNTED#`` item on condition it is not there, and the ADDs go with it or not at
        all, so a batch delivered twice (Lambda's at-least-once) counts once.

        Raises ``TaskStoreBusyError`` while DynamoDB stays busy (the record is then retried)."""
        marker = {
            "Update": {
                "TableName": self._table.name,
                "Key": {"userId": user_id, "bucket": f"{COUNTED_PREFIX}{video_id}"},
                "UpdateExpression": "ADD events :event SET expiresAt = :expires",
                "ConditionExpression": "attribute_not_exists(events) OR NOT contains(events, :id)",
                "ExpressionAttributeValues": {
                    ":event": {event_id},
                    ":id": event_id,
                    ":expires": int((now + COUNTED_TTL).timestamp()),
                },
            }
        }
        try:
            self._writer.transact(
                [marker, self._totals_item(user_id, deltas, now)], stale="This stream record was counted already"
            )
        except StaleWriteError:
            return False
        return True

    def _totals_item(self, user_id: str, deltas: Mapping[str, int], now: datetime) -> dict[str, Any]:
        """The transaction item that adds ``deltas`` to the user's totals."""
        names = {f"#c{index}": name for index, name in enumerate(deltas)}
        values: dict[str, Any] = {f":d{index}": delta for index, delta in enumerate(deltas.values())}
        values[":now"] = iso(now)
        adds = ", ".join(f"#c{index} :d{index}" for index in range(len(deltas)))
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"userId": user_id, "bucket": TOTALS},
                "UpdateExpression": f"ADD {adds} SET updatedAt = :now",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }


def change_deltas(old: Task | None, new: Task | None) -> dict[str, int]:
    """How one write of a task moves its owner's counters: what the task as written (``new``, None when
    deleted) contributes, less what it contributed before (``old``, None when created). Zeros are left out,
    so a write that changes nothing counted (progress, a poster) gives ``{}``."""
    deltas = dict(_contribution(new)) if new is not None else {}
    for name, amount in (_contribution(old) if old is not None else {}).items():
        deltas[name] = deltas.get(name, 0) - amount
    return {name: amount for name, amount in deltas.items() if amount}


def _contribution(task: Task) -> dict[str, int]:
    """What one stored task adds to its owner's counters: one to the total, to its type's and to its status's
    (alone and per type); once COMPLETED, its generation seconds."""
    counted = {
        "total": 1,
        _type_counter(task.type): 1,
        _status_counter(task.status): 1,
        _type_status_counter(task.type, task.status): 1,
    }
    if task.status is TaskStatus.COMPLETED and task.completedAt:
        counted["generationSecondsSum"] = round(task.generation_seconds or 0)
    return counted


def _status_counter(status: TaskStatus) -> str:
    return status.value.lower()


def _type_status_counter(task_type: TaskType, status: TaskStatus) -> str:
    return f"{task_type.value.lower()}_{status.value.lower()}"


def _type_counter(task_type: TaskType) -> str:
    return f"{task_type.value.lower()}_total"


def _model_key(model: str) -> dict[str, str]:
    return {"userId": f"{MODEL_PREFIX}{model}", "bucket": GENERATION_TIMES}


def _hour_bucket(moment: datetime) -> str:
    return f"{HOUR_BUCKET_PREFIX}{moment:%Y%m%d%H}"
