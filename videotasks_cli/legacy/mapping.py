"""One row of the old backend's `video_tasks` table → one ended Task, or the reason it cannot be one.

Pure: no database, no AWS. A row arrives as a dict under the logical names of `schema.COLUMNS` (whatever
the old columns were spelled), values as the PostgreSQL driver gives them.

The choices (docs/MIGRATION.md says them to operators):
- ids are kept: the old `videoId` is ours (`video_<uuid4>`); a row whose id is not of that form is refused,
  since clients and links already know the id and a new one would break them.
- every imported task has ended. QUEUED/PROCESSING rows become FAILED with `LEGACY_UNFINISHED`: resuming
  is not safe (the old backend may still own the job, and the relay that made it is gone).
- an unknown status is refused, not guessed: the operator sees its id and word, and can fix the row.
- two rows with one external id are both imported: they are two tasks to their users, and nothing
  routes a provider's answer to an ended task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from videotasks.domain.failures import for_users
from videotasks.domain.ids import is_video_id
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType, iso

LEGACY_UNFINISHED = "LEGACY_UNFINISHED"
# The old backend's words for its statuses, with the other spellings its list filter took (pending,
# in_progress, canceled): what each becomes here.
STATUSES: dict[str, TaskStatus] = {
    "QUEUED": TaskStatus.QUEUED,
    "PENDING": TaskStatus.QUEUED,
    "PROCESSING": TaskStatus.PROCESSING,
    "IN_PROGRESS": TaskStatus.PROCESSING,
    "COMPLETED": TaskStatus.COMPLETED,
    "FAILED": TaskStatus.FAILED,
    "CANCELLED": TaskStatus.CANCELLED,
    "CANCELED": TaskStatus.CANCELLED,
}
# metadata keys our Task JSON derives from the task itself (domain/wire.py): not stored twice.
_DERIVED_METADATA = frozenset({"externalTaskId", "createdAt"})
# DynamoDB's item limit is 400 KB; a row this large as JSON cannot be stored with room for the rest.
MAX_ITEM_BYTES = 350_000
# Unix times above this are milliseconds (1e12 s is the year 33658).
_MILLISECONDS_FROM = 10**12


@dataclass(frozen=True)
class Mapped:
    task: Task
    media_url: str | None  # the old file of a COMPLETED task, for --copy-media


@dataclass(frozen=True)
class Refused:
    video_id: str
    reason: str


def map_row(row: Mapping[str, Any], *, now: datetime) -> Mapped | Refused:
    """The task a row becomes; ``now`` is when unfinished tasks are ended."""
    raw_id = row.get("video_id")
    video_id = str(raw_id) if raw_id is not None else "(no id)"
    try:
        return _map(row, video_id, now)
    except _RefusalError as refusal:
        return Refused(video_id, str(refusal))


class _RefusalError(ValueError):
    pass


def _map(row: Mapping[str, Any], video_id: str, now: datetime) -> Mapped:
    if not is_video_id(video_id):
        raise _RefusalError("the id is not video_<uuid4>")
    user_id = _text(row.get("user_id"))
    if not user_id:
        raise _RefusalError("no userId")
    prompt = row.get("prompt")
    if not isinstance(prompt, str):
        raise _RefusalError("no prompt")
    model = _text(row.get("model"))
    if not model:
        raise _RefusalError("no model")
    task_type = _task_type(row.get("type"))
    word = _text(row.get("status")).upper()
    if word not in STATUSES:
        raise _RefusalError(f"unknown status {word or '(empty)'!r}")
    status = STATUSES[word]
    metadata = _metadata(row.get("metadata"))
    created = _moment(row.get("created_at")) or _unix(metadata.get("createdAt"))
    if created is None:
        raise _RefusalError("no creation time (createdAt nor metadata.createdAt)")
    updated = max(_moment(row.get("updated_at")) or created, created)
    progress = _progress(row.get("progress"))
    fields: dict[str, Any] = {}
    if status is TaskStatus.COMPLETED:
        completed = max(_moment(row.get("completed_at")) or updated, created)
        progress, fields = 100, {"completedAt": iso(completed)}
    elif status is TaskStatus.FAILED:
        fields = {"error": for_users(TaskError(code="PROVIDER_FAILED", message=_text(row.get("error"))))}
    elif status in (TaskStatus.QUEUED, TaskStatus.PROCESSING):
        # Ended by the import, now: the error keeps what the old backend last knew.
        details = {"legacyStatus": word, "legacyProgress": progress}
        fields = {"error": for_users(TaskError(code=LEGACY_UNFINISHED, message="", details=details))}
        status, updated = TaskStatus.FAILED, max(now, created)
    external = metadata.get("externalTaskId")
    task = Task(
        videoId=video_id,
        userId=user_id,
        type=task_type,
        status=status,
        progress=progress,
        prompt=prompt,
        model=model,
        seconds=_seconds(metadata.get("seconds")),
        size=_text(metadata.get("size")) or None,
        externalTaskId=str(external) if external not in (None, "") else None,
        metadata={key: value for key, value in metadata.items() if key not in _DERIVED_METADATA},
        createdAt=iso(created),
        updatedAt=iso(updated),
        **fields,
    )
    if len(task.model_dump_json()) > MAX_ITEM_BYTES:
        raise _RefusalError("too large to store (prompt or metadata over 350 KB)")
    media_url = (_text(row.get("video_url")) or None) if status is TaskStatus.COMPLETED else None
    return Mapped(task, media_url)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _task_type(value: Any) -> TaskType:
    word = _text(value).upper()
    if not word:
        return TaskType.VIDEO  # the old backend made videos before it made images
    try:
        return TaskType(word)
    except ValueError:
        raise _RefusalError(f"unknown type {word!r}") from None


def _metadata(value: Any) -> dict[str, Any]:
    """The metadata column as a dict: JSON/JSONB arrives decoded; a text column holds JSON text."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            raise _RefusalError("metadata is not JSON") from None
    return dict(value) if isinstance(value, dict) else {}


def _moment(value: Any) -> datetime | None:
    """A timestamp column's value; `timestamp without time zone` (Prisma's DateTime) holds UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value.strip():
        try:
            return _moment(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            raise _RefusalError(f"unreadable time {value!r}") from None
    return None


def _unix(value: Any) -> datetime | None:
    """metadata.createdAt: Unix seconds (milliseconds accepted), as a number or digits."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    return datetime.fromtimestamp(number / 1000 if number >= _MILLISECONDS_FROM else number, UTC)


def _progress(value: Any) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return 0
    return min(100, max(0, number))


def _seconds(value: Any) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None
