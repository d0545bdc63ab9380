"""Tasks as DynamoDB items, and back: the encoding every read, write and stream record of a task shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from videotasks.domain.models import Task, TaskStatus, TaskType


def plain(value: Any) -> Any:
    """DynamoDB gives numbers back as Decimal; the model wants ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
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


# The ByUserFilter index's keys (docs/ARCHITECTURE.md, "Listing"): one partition per owner, type and status, each
# newest first by creation, so any filter of the list reads only the tasks it answers with. Stored, never read
# back into a Task (the model ignores unknown names), so they never reach a reply.
FILTER_KEY = "filterKey"
LIST_KEY = "listKey"


def filter_key(user_id: str, task_type: TaskType, status: TaskStatus) -> str:
    return f"{user_id}#{task_type.value}#{status.value}"


def list_key(created_at: str, video_id: str) -> str:
    """Creation time, then the id: unique (a batch's tasks share one ``createdAt``), so a listing can resume
    strictly after the last task it returned with a key condition alone."""
    return f"{created_at}#{video_id}"


def list_keys(task: Task, status: TaskStatus | None = None) -> dict[str, str]:
    """The index keys of ``task`` once it is in ``status`` (its own by default)."""
    return {
        FILTER_KEY: filter_key(task.userId, task.type, status or task.status),
        LIST_KEY: list_key(task.createdAt, task.videoId),
    }


def task_item(task: Task) -> dict[str, Any]:
    """The item that stores ``task``; absent fields are left out rather than stored as nulls."""
    stored = {key: _dynamo(value) for key, value in task.model_dump(mode="json").items() if value is not None}
    return {**stored, **list_keys(task)}


def task_from_item(item: dict[str, Any]) -> Task:
    """A task from its item, as a read returns it or a stream record carries it (NewImage or OldImage,
    already deserialised)."""
    return Task.model_validate(plain(item))


def set_expression(fields: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any], str]:
    """Names, values and the ``SET`` expression that write ``fields`` of a task item.

    Placeholders for every name, since task fields such as ``status`` are DynamoDB reserved words."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    parts: list[str] = []
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":v{index}"] = _stored(value)
        parts.append(f"#f{index} = :v{index}")
    return names, values, "SET " + ", ".join(parts)


def _stored(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return _dynamo(value.model_dump(mode="json"))
    if isinstance(value, TaskStatus | TaskType):
        return value.value
    return _dynamo(value)
