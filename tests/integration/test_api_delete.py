"""DELETE /api/video/tasks/{videoId}: an ended task goes with its media, its counters follow in the same
transaction, and nothing of it can be read afterwards; a running task is a 409 that changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.api_harness import (
    MISSING_VIDEO_ID,
    OTHER_USER,
    USER,
    Api,
    media_objects,
    recount,
    run_together,
    stored_tasks,
)
from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import TaskStatus, iso, utc_now
from videotasks.services import deletion

pytest_plugins = ["tests.integration.api_fixtures"]


def _stats_match_the_tasks(api: Api, aws_stack) -> None:
    stats = api.stats().data
    assert {key: stats[key] for key in ("total", "byStatus", "byType")} == recount(aws_stack, USER)


@pytest.mark.parametrize("end", ["COMPLETED", "FAILED", "CANCELLED"])
def test_an_ended_task_is_deleted_and_nothing_of_it_can_be_read(api: Api, steps, aws_stack, end):
    kept = api.create_id()
    video_id = api.create_id()
    {"COMPLETED": steps.complete, "FAILED": steps.fail, "CANCELLED": api.cancel}[end](video_id)

    reply = api.delete(video_id)

    assert reply.status == 200, reply.body
    assert reply.data["videoId"] == video_id and reply.data["deleted"] is True
    api.get(video_id).error(404, "NOT_FOUND")
    api.content(video_id).error(404, "NOT_FOUND")
    assert [item["videoId"] for item in api.list().data["items"]] == [kept]
    assert media_objects(aws_stack, video_id) == []
    _stats_match_the_tasks(api, aws_stack)


def test_counters_of_a_deleted_completed_video_go_back_to_before_it_was_created(api: Api, steps, aws_stack, counters):
    api.create_id()
    before = counters()
    stats_before = api.stats().data
    video_id = api.create_id()
    steps.complete(video_id)

    api.delete(video_id)

    assert counters() == before
    stats = api.stats().data
    assert stats["last24Hours"] == stats_before["last24Hours"] == 1
    assert stats["averageGenerationSeconds"] is None  # no COMPLETED task left to average over


def test_the_media_object_is_gone_from_s3(api: Api, steps, aws_stack):
    video_id = api.create_id()
    steps.complete(video_id)
    assert media_objects(aws_stack, video_id)

    api.delete(video_id)

    assert media_objects(aws_stack, video_id) == []


def test_a_second_delete_is_a_404(api: Api, steps):
    video_id = api.create_id()
    api.cancel(video_id)
    api.delete(video_id)

    api.delete(video_id).error(404, "NOT_FOUND")


@pytest.mark.parametrize("state", ["QUEUED", "PROCESSING"])
def test_a_running_task_is_a_409_that_says_cancel_first(api: Api, steps, aws_stack, counters, state):
    video_id = api.create_id()
    if state == "PROCESSING":
        steps.submit(video_id)
    before = counters()

    error = api.delete(video_id).error(409, "CONFLICT")

    assert state in error["message"] and "cancel" in error["message"].lower()
    assert api.get(video_id).data["status"] == state
    assert counters() == before


@pytest.mark.parametrize("whose", ["another user's", "missing"])
def test_a_task_that_is_not_the_callers_is_a_404_and_stays(api: Api, aws_stack, whose):
    theirs = api.as_user(OTHER_USER)
    video_id = theirs.create_id() if whose == "another user's" else MISSING_VIDEO_ID
    if whose == "another user's":
        theirs.cancel(video_id)

    api.delete(video_id).error(404, "NOT_FOUND")

    if whose == "another user's":
        assert theirs.get(video_id).data["status"] == "CANCELLED"


def test_concurrent_deletes_remove_and_uncount_the_task_once(api: Api, steps, aws_stack, serialised_moto):
    video_id = api.create_id()
    steps.fail(video_id)

    replies = run_together([lambda: api.delete(video_id) for _ in range(4)])

    assert sorted(reply.status for reply in replies) == [200, 404, 404, 404]
    assert stored_tasks(aws_stack, USER) == []
    _stats_match_the_tasks(api, aws_stack)


def test_an_s3_failure_after_the_record_is_gone_still_answers_the_delete(
    api: Api, steps, aws_stack, monkeypatch, spy_logger
):
    video_id = api.create_id()
    steps.complete(video_id)
    logged = spy_logger(deletion.logger, "exception")

    def refuse(self: MediaStore, key: str) -> None:
        raise RuntimeError("S3 is down")

    monkeypatch.setattr(MediaStore, "delete", refuse)

    assert api.delete(video_id).status == 200
    api.get(video_id).error(404, "NOT_FOUND")
    assert media_objects(aws_stack, video_id)  # left for the stream's REMOVE record (test_broadcaster)
    assert [message for message, _ in logged] == ["could not delete the media; the stream's handler will"]


def test_an_old_tasks_hour_bucket_is_left_alone(aws_stack, stored_task, counters):
    """A task created more than two days ago: its hour's item has expired (DynamoDB's TTL; moto keeps it,
    which lets this test see that the delete does not touch it), and no delete makes it anew."""
    repository = TaskRepository(aws_stack.settings)
    old = stored_task(USER, status=TaskStatus.CANCELLED, createdAt=iso(utc_now() - timedelta(days=3)))

    repository.delete(old)

    hours = [item for item in aws_stack.table("STATS_TABLE").scan()["Items"] if item["bucket"].startswith("H#")]
    assert [int(item["created"]) for item in hours] == [1]
    assert counters() == {}


def test_replaying_the_key_of_a_deleted_task_is_a_409_saying_so(api: Api, aws_stack):
    created = api.create(key="made-then-deleted")
    video_id = created.data["videoId"]
    api.cancel(video_id)
    api.delete(video_id)

    error = api.create(key="made-then-deleted").error(409, "CONFLICT")

    assert video_id in error["message"] and "deleted" in error["message"]
    assert stored_tasks(aws_stack, USER) == []
