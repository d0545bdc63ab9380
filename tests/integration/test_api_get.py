"""GET /api/video/tasks/{videoId} and GET /api/video/tasks/{videoId}/content, with tasks moved through
the workflow's real steps (fake providers, real DynamoDB and S3 in moto)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
import requests

from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, Api, media_bytes, media_objects

pytest_plugins = ["tests.integration.api_fixtures"]


def test_get_answers_the_task_as_created(api: Api):
    created = api.create(prompt="a koi pond", seconds=8).data

    reply = api.get(created["videoId"])

    assert reply.status == 200, reply.body
    assert reply.data == created


def test_get_follows_the_task_through_processing(api: Api, steps, fake_videos):
    video_id = api.create_id()
    steps.submit(video_id)
    fake_videos.report("in_progress", 40)
    steps.workflow.poll(video_id)

    task = api.get(video_id).data

    assert task["status"] == "PROCESSING"
    assert task["progress"] == 40
    assert task["externalVideoId"] == task["externalTaskId"] == "ext_video_1"
    assert task["metadata"]["externalTaskId"] == "ext_video_1"
    assert task["videoUrl"] is None


def test_completed_task_has_a_video_url_that_serves_the_stored_mp4(api: Api, steps, aws_stack, fake_videos):
    video_id = api.create_id()
    steps.complete(video_id)

    task = api.get(video_id).data

    assert task["status"] == "COMPLETED"
    assert task["progress"] == 100
    assert task["completedAt"]
    assert task["error"] is None
    played = requests.get(task["videoUrl"], timeout=10)  # moto serves presigned URLs in process
    assert played.status_code == 200
    assert played.content == fake_videos.media


def test_failed_task_carries_the_providers_error_and_no_url(api: Api, steps):
    video_id = api.create_id()
    steps.fail(video_id)

    task = api.get(video_id).data

    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "CONTENT_POLICY"  # the relay's moderation_blocked, in our closed set
    assert task["error"]["message"]
    assert task["error"]["details"]["providerCode"] == "moderation_blocked"
    assert task["videoUrl"] is None


def test_get_of_a_missing_task_is_404(api: Api):
    api.get(MISSING_VIDEO_ID).error(404, "NOT_FOUND")


@pytest.mark.parametrize(
    "bad_id",
    [
        "42",
        "video_123",
        "video_00000000-0000-1000-8000-000000000000",  # a UUID, but not version 4
        "ext_video_1",  # the provider's id is not ours
    ],
)
@pytest.mark.parametrize("route", ["GET {}", "GET {}/content", "POST {}/cancel"])
def test_a_path_id_that_is_not_video_uuid4_is_a_400_naming_video_id(api: Api, route, bad_id):
    method, path = route.split(" ")

    reply = api.call(method, path.format(f"{BASE}/tasks/{bad_id}"))

    reply.validation_error("videoId")


# -- content ----------------------------------------------------------------------------------------------


def test_content_of_a_completed_video_is_a_presigned_url_to_its_mp4(api: Api, steps, aws_stack, fake_videos):
    video_id = api.create_id()
    steps.complete(video_id)

    reply = api.content(video_id)

    assert reply.status == 200, reply.body
    link = reply.data
    assert link["videoId"] == video_id
    assert link["externalVideoId"] == "ext_video_1"
    assert link["contentType"] == "video/mp4"
    expires = datetime.fromisoformat(link["expiresAt"].replace("Z", "+00:00"))
    assert expires > datetime.now(UTC)
    [key] = media_objects(aws_stack, video_id)
    assert urlparse(link["url"]).path.endswith(key)
    assert "Signature" in link["url"]
    assert media_bytes(aws_stack, key) == fake_videos.media
    assert requests.get(link["url"], timeout=10).content == fake_videos.media


@pytest.mark.parametrize(
    ("state", "says", "reason"),
    [
        ("QUEUED", "not ready yet", "content_not_ready"),
        ("PROCESSING", "not ready yet", "content_not_ready"),
        ("FAILED", "will never have content", "content_never_failed"),
        ("CANCELLED", "will never have content", "content_never_cancelled"),
    ],
)
def test_content_before_completion_is_409_saying_whether_it_will_come(api: Api, steps, state, says, reason):
    video_id = api.create_id()
    if state in ("PROCESSING", "FAILED"):
        steps.submit(video_id)
    if state == "FAILED":
        steps.fail(video_id)
    if state == "CANCELLED":
        api.cancel(video_id)
    assert api.status_of(video_id) == state

    reply = api.content(video_id)

    error = reply.error(409, "CONFLICT")
    assert says in reply.body["message"]
    assert [(item["field"], item["status"], item["reason"]) for item in error["details"]] == [
        ("videoId", state, reason)
    ]


def test_content_of_a_missing_task_is_404(api: Api):
    api.content(MISSING_VIDEO_ID).error(404, "NOT_FOUND")


# -- image tasks --------------------------------------------------------------------------------------------


def test_image_task_completes_through_the_workflow_with_its_image_in_s3(api: Api, steps, aws_stack, fake_images):
    video_id = api.create_id(prompt="a red fox, studio light", type="IMAGE")

    steps.submit(video_id)  # an image is generated in one step: no polling

    task = api.get(video_id).data
    assert task["status"] == "COMPLETED"
    assert task["type"] == "IMAGE"
    assert task["progress"] == 100
    assert task["externalVideoId"] == "img_1"
    [key] = media_objects(aws_stack, video_id)
    assert key.endswith(".png")
    assert media_bytes(aws_stack, key) == fake_images.media
    assert requests.get(task["videoUrl"], timeout=10).content == fake_images.media
    assert [request.prompt for request in fake_images.generated] == ["a red fox, studio light"]


def test_content_of_a_completed_image_names_its_type(api: Api, steps, fake_images):
    video_id = api.create_id(type="IMAGE")
    steps.submit(video_id)

    link = api.content(video_id).data

    assert (link["type"], link["contentType"]) == ("IMAGE", "image/png")
    assert requests.get(link["url"], timeout=10).content == fake_images.media


def test_image_task_is_counted_as_a_completed_image(api: Api, steps, counters):
    steps.submit(api.create_id(type="IMAGE"))

    assert counters() == {"total": 1, "completed": 1, "image_total": 1, "image_completed": 1}
