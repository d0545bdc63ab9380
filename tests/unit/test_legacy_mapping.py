"""The old backend's rows as tasks: what each kind of row becomes, and why a row is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.legacy_rows import odd_rows, old_row
from videotasks.domain import messages
from videotasks.domain.models import TaskStatus, TaskType
from videotasks_cli.legacy.mapping import LEGACY_UNFINISHED, Mapped, Refused, map_row
from videotasks_cli.legacy.schema import masked

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def logical(row: dict[str, Any]) -> dict[str, Any]:
    """A camelCase row under the logical names the reader gives the mapping."""
    names = {"videoId": "video_id", "userId": "user_id", "videoUrl": "video_url", "createdAt": "created_at"}
    names |= {"updatedAt": "updated_at", "completedAt": "completed_at"}
    return {names.get(key, key): value for key, value in row.items()}


def mapped(row: dict[str, Any]) -> Mapped:
    result = map_row(logical(row), now=NOW)
    assert isinstance(result, Mapped), result
    return result


def refused(row: dict[str, Any]) -> Refused:
    result = map_row(logical(row), now=NOW)
    assert isinstance(result, Refused), result
    return result


def test_a_completed_video_keeps_its_ids_times_and_old_file() -> None:
    row = old_row(videoUrl="https://relay.example/files/1.mp4", externalTaskId="video_abc")
    result = mapped(row)
    task = result.task
    assert (task.videoId, task.userId, task.externalTaskId) == (row["videoId"], "legacy-user", "video_abc")
    assert task.status is TaskStatus.COMPLETED and task.progress == 100
    assert task.createdAt == "2025-03-01T12:00:00.000Z"
    assert task.completedAt == "2025-03-01T12:03:00.000Z"
    assert task.generation_seconds == 180
    assert result.media_url == "https://relay.example/files/1.mp4"
    assert "externalTaskId" not in task.metadata and "createdAt" not in task.metadata  # the wire derives them


@pytest.mark.parametrize("word", ["QUEUED", "PROCESSING", "pending", "in_progress"])
def test_an_unfinished_task_ends_failed_with_its_own_code(word: str) -> None:
    task = mapped(old_row(status=word, progress=35, completedAt=None, videoUrl="https://x/1.mp4")).task
    assert task.status is TaskStatus.FAILED
    assert task.error is not None and task.error.code == LEGACY_UNFINISHED
    assert task.error.message == messages.render("failure_legacy_unfinished", "en")
    assert task.error.details == {"legacyStatus": word.upper(), "legacyProgress": 35}
    assert task.progress == 35 and task.completedAt is None
    assert task.updatedAt == "2026-01-10T09:00:00.000Z"  # ended by the import
    assert mapped(old_row(status=word, completedAt=None, videoUrl="https://x/1.mp4")).media_url is None


def test_a_failed_task_keeps_the_old_words_out_of_its_message() -> None:
    task = mapped(old_row(status="FAILED", error="Relay: GET /v1/videos/x answered 500")).task
    assert task.error is not None
    assert task.error.code == "PROVIDER_FAILED"
    assert task.error.message == messages.render("failure_provider_failed", "en")
    assert task.error.details == {"providerMessage": "Relay: GET /v1/videos/x answered 500"}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown_status", "unknown status 'ARCHIVED'"),
        ("bad_id", "the id is not video_<uuid4>"),
        ("uppercase_id", "the id is not video_<uuid4>"),
        ("unknown_type", "unknown type 'AUDIO'"),
    ],
)
def test_rows_that_cannot_be_ours_are_refused_with_their_id_and_reason(case: str, reason: str) -> None:
    row = odd_rows()[case]
    assert refused(row) == Refused(row["videoId"], reason)


def test_missing_values_are_refused() -> None:
    assert refused(old_row(userId=" ")).reason == "no userId"
    assert refused(old_row(prompt=None)).reason == "no prompt"
    assert refused(old_row(model=None)).reason == "no model"
    assert refused(old_row(createdAt=None, metadata=None)).reason.startswith("no creation time")
    assert refused(old_row(metadata="{not json")).reason == "metadata is not JSON"
    assert refused(old_row(prompt="x" * 400_000)).reason.startswith("too large")
    assert map_row({}, now=NOW) == Refused("(no id)", "the id is not video_<uuid4>")


def test_odd_but_usable_rows() -> None:
    rows = odd_rows()
    assert mapped(rows["null_metadata"]).task.externalTaskId is None
    assert mapped(rows["non_ascii"]).task.prompt == "一只在雪地里奔跑的狐狸 🦊 — «ünïcödé»"
    assert mapped(rows["lowercase_status"]).task.status is TaskStatus.CANCELLED
    assert mapped(rows["progress_out_of_range"]).task.progress == 100
    assert mapped(rows["image"]).task.type is TaskType.IMAGE
    from_metadata = mapped(rows["millisecond_metadata"]).task
    assert (from_metadata.seconds, from_metadata.size) == (8, "1280x720")
    assert mapped(old_row(progress=-5, status="CANCELLED")).task.progress == 0


def test_the_creation_time_falls_back_to_metadata_in_seconds_or_milliseconds() -> None:
    seconds = old_row(createdAt=None, updatedAt=None, completedAt=None, metadata={"createdAt": 1740830400})
    assert mapped(seconds).task.createdAt == "2025-03-01T12:00:00.000Z"
    millis = old_row(createdAt=None, updatedAt=None, completedAt=None, metadata={"createdAt": "1740830400000"})
    assert mapped(millis).task.createdAt == "2025-03-01T12:00:00.000Z"


def test_times_never_run_backwards_and_keep_their_zone() -> None:
    created = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    row = old_row(createdAt=created, updatedAt=datetime(2025, 3, 1, 13, 0), completedAt=datetime(2025, 3, 1, 13, 0))
    task = mapped(row).task
    assert task.updatedAt == task.completedAt == task.createdAt == "2025-03-01T14:00:00.000Z"
    text_times = mapped(old_row(createdAt="2025-03-01T12:00:00+02:00", updatedAt=None, completedAt=None)).task
    assert text_times.createdAt == "2025-03-01T10:00:00.000Z"
    assert refused(old_row(createdAt="yesterday")).reason == "unreadable time 'yesterday'"


def test_duplicate_external_ids_are_two_tasks() -> None:
    rows = odd_rows()
    first, second = mapped(rows["duplicate_external_a"]).task, mapped(rows["duplicate_external_b"]).task
    assert first.externalTaskId == second.externalTaskId and first.videoId != second.videoId


def test_passwords_are_masked_in_database_urls() -> None:
    assert masked("postgresql://app:hunter2@db.example:5432/old") == "postgresql://app:***@db.example:5432/old"
    assert masked("postgresql://db.example/old") == "postgresql://db.example/old"
    assert masked("host=db.example password='hun ter2' dbname=old") == "host=db.example password=*** dbname=old"
    assert masked("host=db.example PASSWORD = hunter2") == "host=db.example PASSWORD = ***"
