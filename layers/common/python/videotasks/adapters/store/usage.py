"""What users spend against their limits (``videotasks.domain.admission``), in the stats table.

Layout (key ``userId`` + ``bucket``, beside the counters of ``counters.py``): ``RATE#YYYYMMDDHHMM`` holds
``creates`` of one UTC minute, ``QUOTA#YYYYMMDD`` holds ``videoSeconds`` of one UTC day; each expires
(``expiresAt``, the table's TTL) a day after its window ends. Both are charged by conditional ``ADD``s in
the create's own transaction: the condition is "what is counted leaves room for this charge", so of
concurrent creates exactly as many pass as the limit holds, and a refused one writes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from videotasks.adapters.store.counters import TOTALS, UserCounters
from videotasks.adapters.store.items import plain
from videotasks.domain.admission import Charge, day_window, minute_window, refund_day, refundable, video_seconds
from videotasks.domain.models import Task, TaskStatus

RATE_PREFIX = "RATE#"
QUOTA_PREFIX = "QUOTA#"
# Kept past their window only for a person looking at the table; nothing reads an ended window.
KEEP_AFTER_WINDOW = timedelta(days=1)
_REFUNDED_BY = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


@dataclass(frozen=True)
class UsageNow:
    """One user's counts in the current windows, and their tasks by status."""

    creates_this_minute: int
    video_seconds_today: int
    processing: int
    queued: int


class UsageTable:
    def __init__(self, table: Any) -> None:
        self._table = table

    def charge(self, charge: Charge) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """The transaction items that charge ``charge``, and which limit each one's failed condition means
        (``"rate"`` or ``"quota"``, by the item's position among these items)."""
        minute, minute_ends = charge.minute
        items = [
            self._conditional_add(
                charge.user_id,
                f"{RATE_PREFIX}{minute}",
                "creates",
                charge.creates,
                charge.limits.creates_per_minute,
                minute_ends,
            )
        ]
        meaning = {0: "rate"}
        if charge.video_seconds:  # an image-only create asks nothing of the quota, full or not
            day, day_ends = charge.day
            meaning[len(items)] = "quota"
            items.append(
                self._conditional_add(
                    charge.user_id,
                    f"{QUOTA_PREFIX}{day}",
                    "videoSeconds",
                    charge.video_seconds,
                    charge.limits.video_seconds_per_day,
                    day_ends,
                )
            )
        return items, meaning

    def refund(self, task: Task, target: TaskStatus) -> list[dict[str, Any]]:
        """The item that gives a task's seconds back when it ends ``target`` before any provider took it;
        none otherwise. It rides on the conditional write that ends the task, so it happens once."""
        if target not in _REFUNDED_BY or not refundable(task):
            return []
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"userId": task.userId, "bucket": f"{QUOTA_PREFIX}{refund_day(task)}"},
                    "UpdateExpression": "ADD videoSeconds :refund",
                    "ExpressionAttributeValues": {":refund": -video_seconds(task)},
                }
            }
        ]

    def read(self, user_id: str, now: datetime) -> UsageNow:
        """The current windows' counts and the counters item, in one BatchGetItem (strongly consistent)."""
        keys = {
            "rate": f"{RATE_PREFIX}{minute_window(now)[0]}",
            "quota": f"{QUOTA_PREFIX}{day_window(now)[0]}",
            "totals": TOTALS,
        }
        request = {
            self._table.name: {
                "Keys": [{"userId": user_id, "bucket": bucket} for bucket in keys.values()],
                "ConsistentRead": True,
            }
        }
        found: dict[str, dict[str, Any]] = {}
        for _ in range(3):  # unprocessed keys come back only under throttling; three small tries then give up
            reply = self._table.meta.client.batch_get_item(RequestItems=request)
            for item in reply.get("Responses", {}).get(self._table.name, []):
                found[str(item["bucket"])] = plain(item)
            request = reply.get("UnprocessedKeys") or {}
            if not request:
                break
        by_status = UserCounters.of_stored(found.get(TOTALS, {}), 0).by_status
        return UsageNow(
            creates_this_minute=int(found.get(keys["rate"], {}).get("creates", 0)),
            video_seconds_today=max(0, int(found.get(keys["quota"], {}).get("videoSeconds", 0))),
            processing=max(0, by_status[TaskStatus.PROCESSING]),
            queued=max(0, by_status[TaskStatus.QUEUED]),
        )

    def _conditional_add(
        self, user_id: str, bucket: str, counter: str, amount: int, limit: int, window_ends: datetime
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"userId": user_id, "bucket": bucket},
                "UpdateExpression": "ADD #counter :amount SET expiresAt = :expires",
                "ConditionExpression": "attribute_not_exists(#counter) OR #counter <= :room",
                "ExpressionAttributeNames": {"#counter": counter},
                "ExpressionAttributeValues": {
                    ":amount": amount,
                    ":room": limit - amount,
                    ":expires": int((window_ends + KEEP_AFTER_WINDOW).timestamp()),
                },
            }
        }
