"""The client-facing forms of a task (videotasks.domain.wire): the HTTP Task JSON with the provider's id
under its three names, made from the one stored field, and the status words."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.fixtures.tasks import new_task
from videotasks.domain.models import TaskStatus
from videotasks.domain.wire import INTERNAL_FIELDS, STATUS_WORDS, WIRE_STATUS, status_of_word, task_ids, task_json

Q, P, C, F, X = (
    TaskStatus.QUEUED,
    TaskStatus.PROCESSING,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
)


def test_the_provider_id_goes_out_under_all_three_names_from_the_one_stored_field() -> None:
    task = new_task(status=P, externalTaskId="ext_9", metadata={"project": "teaser"})

    body = task_json(task, video_url=None)

    assert body["videoId"] == task.videoId
    assert body["externalVideoId"] == body["externalTaskId"] == body["metadata"]["externalTaskId"] == "ext_9"
    assert body["metadata"] == {"project": "teaser", "externalTaskId": "ext_9", "createdAt": unix(task.createdAt)}
    assert task.metadata == {"project": "teaser"}, "shaping the reply must not change the task"


def test_before_submission_every_name_of_the_provider_id_is_null() -> None:
    task = new_task(metadata={})
    body = task_json(task, video_url=None)

    assert (body["externalVideoId"], body["externalTaskId"]) == (None, None)
    assert body["metadata"] == {"externalTaskId": None, "createdAt": unix(task.createdAt)}


def test_metadata_created_at_is_the_tasks_creation_in_unix_seconds_as_the_old_backend_sent_it() -> None:
    body = task_json(new_task(createdAt="2025-11-13T09:58:12.345Z"), video_url=None)

    assert body["metadata"]["createdAt"] == 1763027892
    assert body["createdAt"] == "2025-11-13T09:58:12.345Z", "the top-level time stays ISO 8601"


def unix(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def test_an_item_stored_with_the_old_metadata_copy_reads_the_same() -> None:
    # Items written before the id was kept only top level carry a copy in metadata; the field wins.
    old = new_task(status=P, externalTaskId="ext_9", metadata={"externalTaskId": "ext_9", "mediaBytes": 10})
    new = old.model_copy(update={"metadata": {"mediaBytes": 10}})

    assert task_json(old, video_url=None) == task_json(new, video_url=None)


def test_internal_fields_never_reach_clients_and_the_url_is_the_callers() -> None:
    task = new_task(status=C, externalTaskId="ext_9", mediaKey="media/x.mp4", executionArn="arn:x", pollAttempts=3)

    body = task_json(task, video_url="https://media.test/x.mp4")

    assert not INTERNAL_FIELDS & set(body)
    assert body["videoUrl"] == "https://media.test/x.mp4"
    assert body["status"] == "COMPLETED"


def test_every_message_names_both_ids() -> None:
    task = new_task(externalTaskId="ext_9")

    assert task_ids(task) == {"videoId": task.videoId, "externalVideoId": "ext_9"}


def test_every_status_has_the_old_backends_lowercase_wire_form() -> None:
    assert WIRE_STATUS == {Q: "queued", P: "in_progress", C: "completed", F: "failed", X: "cancelled"}


def test_the_status_words_clients_may_use_are_the_names_the_wire_words_and_the_old_spellings() -> None:
    assert STATUS_WORDS == {
        "queued": Q,
        "pending": Q,
        "processing": P,
        "in_progress": P,
        "completed": C,
        "failed": F,
        "cancelled": X,
        "canceled": X,
    }


@pytest.mark.parametrize(("word", "status"), [(" In_Progress ", P), ("CANCELED", X), ("queued", Q), ("Failed", F)])
def test_status_words_are_matched_whatever_their_case(word: str, status: TaskStatus) -> None:
    assert status_of_word(word) is status


@pytest.mark.parametrize("word", ["succeeded", "done", "", "QUEUED!"])
def test_other_words_name_no_status(word: str) -> None:
    assert status_of_word(word) is None
