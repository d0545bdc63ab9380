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


def task_item(task: Task) -> dict[str, Any]:
    """The item that stores ``task``; absent fields are left out rather than stored as nulls."""
    return {key: _dynamo(value) for key, value in task.model_dump(mode="json").items() if value is not None}


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
