"""Giving the tasks stored before the ``ByUserFilter`` index existed its keys (``videotasks backfill-list-keys``).

A maintenance pass run once after the upgrade is deployed (docs/DEPLOYMENT.md): a task item without
``filterKey``/``listKey`` is in no filtered listing. Since that release every write that creates a task or
changes its status writes both keys, so only the older items need them. The pass reads the table page by page
(a Scan: an operator's command, never a request path) and writes the keys each item lacks or holds stale, each
write conditional on the status and owner it read: a task that moved or went meanwhile was keyed (or removed)
by that very write and is left alone. Running it again changes nothing; stopped, it goes on from the page it
reached (``start``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videotasks.adapters.store.items import FILTER_KEY, LIST_KEY, filter_key, list_key
from videotasks.adapters.store.writes import ConditionalWriter
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import TaskStatus, TaskType

_READ = ("videoId", "userId", "#type", "#status", "createdAt", FILTER_KEY, LIST_KEY)


@dataclass(frozen=True)
class BackfillPage:
    scanned: int
    keyed: int  # items given their keys now
    moved: int  # items that changed or went while read: their own write keyed them
    next_start: dict[str, Any] | None  # where the next page starts; None when the table is done


def backfill_page(table: Any, writer: ConditionalWriter, *, start: dict[str, Any] | None, limit: int) -> BackfillPage:
    """One page of up to ``limit`` items read, and the keys each one lacks written."""
    scan: dict[str, Any] = {
        "Limit": limit,
        "ProjectionExpression": ", ".join(_READ),
        "ExpressionAttributeNames": {"#type": "type", "#status": "status"},
    }
    if start:
        scan["ExclusiveStartKey"] = start
    reply = table.scan(**scan)
    keyed = moved = 0
    for item in reply.get("Items", []):
        wanted = {
            FILTER_KEY: filter_key(str(item["userId"]), TaskType(item["type"]), TaskStatus(item["status"])),
            LIST_KEY: list_key(str(item["createdAt"]), str(item["videoId"])),
        }
        if all(item.get(name) == value for name, value in wanted.items()):
            continue
        try:
            writer.write(_key_write(table, item, wanted), stale="changed while keyed")
            keyed += 1
        except StaleWriteError:
            moved += 1
    return BackfillPage(len(reply.get("Items", [])), keyed, moved, reply.get("LastEvaluatedKey"))


def _key_write(table: Any, item: dict[str, Any], wanted: dict[str, str]) -> Callable[[], Any]:
    """The write of ``wanted`` on ``item``, refused unless the task is still in the status and owner read."""
    return lambda: table.update_item(
        Key={"videoId": item["videoId"]},
        UpdateExpression="SET #filter = :filter, #list = :list",
        ConditionExpression="#status = :status AND userId = :owner",
        ExpressionAttributeNames={"#filter": FILTER_KEY, "#list": LIST_KEY, "#status": "status"},
        ExpressionAttributeValues={
            ":filter": wanted[FILTER_KEY],
            ":list": wanted[LIST_KEY],
            ":status": item["status"],
            ":owner": item["userId"],
        },
    )
