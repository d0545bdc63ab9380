"""POST /api/video/tasks/{videoId}/retry and /remix: a new task made from one of the caller's own, through the
same create as POST /tasks; a refusal (another user's task, the wrong state, a model that cannot remix) writes
nothing."""

from __future__ import annotations

import pytest

from tests.integration.api_harness import MISSING_VIDEO_ID, OTHER_USER, Api, executions, stored_tasks

pytest_plugins = ["tests.integration.api_fixtures"]

REMIX_MODEL = "sora_video2"  # the openai_videos shape: remix in its capabilities


def _failed(api: Api, steps, **fields) -> str:
    video_id = api.create_id(**fields)
    steps.fail(video_id)
    return video_id


# -- retry ----------------------------------------------------------------------------------------------
def test_a_failed_task_is_retried_as_a_new_task_with_the_same_parameters(
    api: Api, steps, aws_stack, fake_videos, counters
):
    source = _failed(
        api,
        steps,
        model=REMIX_MODEL,
        seconds=15,
        size="1280x720",
        metadata={"scene": 7},
        inputReference="https://example.com/first-frame.png",
        clientRequestId="the-first-create",
    )

    reply = api.retry(source)

    assert reply.status == 201, reply.body
    task = reply.data
    assert task["videoId"] != source
    assert task["retryOf"] == source
    assert task["remixOf"] is None
    assert task["status"] == "QUEUED"
    assert (task["model"], task["seconds"], task["size"]) == (REMIX_MODEL, 15, "1280x720")
    assert task["inputReference"] == "https://example.com/first-frame.png"
    assert task["metadata"]["scene"] == 7
    assert task["clientRequestId"] is None  # a new request, not a replay of the first one
    assert api.get(task["videoId"]).data["retryOf"] == source
    assert api.get(source).data["retryOf"] is None
    assert len(executions(aws_stack)) == 2  # the retry started its own workflow
    steps.complete(task["videoId"])
    assert fake_videos.created[-1].prompt == fake_videos.created[0].prompt
    assert counters()["total"] == 2


def test_a_cancelled_task_can_be_retried(api: Api):
    source = api.create_id()
    api.cancel(source)

    reply = api.retry(source, {})

    assert reply.status == 201, reply.body
    assert reply.data["retryOf"] == source


@pytest.mark.parametrize("state", ["QUEUED", "PROCESSING", "COMPLETED"])
def test_retrying_a_task_that_did_not_fail_or_was_not_cancelled_is_a_409_naming_its_state(
    api: Api, steps, aws_stack, state
):
    source = api.create_id()
    if state == "PROCESSING":
        steps.submit(source)
    elif state == "COMPLETED":
        steps.complete(source)

    error = api.retry(source).error(409, "CONFLICT")

    assert state in error["message"] and source in error["message"]
    assert len(stored_tasks(aws_stack, "alice")) == 1


@pytest.mark.parametrize("whose", ["another user's", "missing"])
def test_retrying_a_task_that_is_not_the_callers_is_a_404_like_get(api: Api, steps, aws_stack, whose):
    video_id = _failed(api.as_user(OTHER_USER), steps) if whose == "another user's" else MISSING_VIDEO_ID

    reply = api.retry(video_id)

    assert reply.error(404, "NOT_FOUND") == api.get(video_id).error(404, "NOT_FOUND")
    assert stored_tasks(aws_stack, "alice") == []


def test_a_retry_body_with_unknown_fields_is_refused(api: Api, steps, aws_stack):
    source = _failed(api, steps)

    reply = api.retry(source, {"prompt": "something else"})

    reply.error(400, "VALIDATION_ERROR")
    assert len(stored_tasks(aws_stack, "alice")) == 1


def test_the_same_idempotency_key_replays_the_same_retry(api: Api, steps, aws_stack):
    source = _failed(api, steps)

    first = api.retry(source, key="retry-once")
    again = api.retry(source, key="retry-once")

    assert (first.status, again.status) == (201, 200)
    assert again.data["videoId"] == first.data["videoId"]
    assert len(stored_tasks(aws_stack, "alice")) == 2


def test_a_retry_key_never_replays_a_create_or_another_sources_retry(api: Api, steps, aws_stack):
    created = api.create(key="shared-key")
    source, other_source = _failed(api, steps), _failed(api, steps)

    first = api.retry(source, key="shared-key")
    second = api.retry(other_source, key="shared-key")

    assert (first.status, second.status) == (201, 201)
    ids = {created.data["videoId"], first.data["videoId"], second.data["videoId"]}
    assert len(ids) == 3
    assert second.data["retryOf"] == other_source


# -- remix ----------------------------------------------------------------------------------------------
def test_a_completed_video_is_remixed_by_the_provider_from_its_job(api: Api, steps, fake_videos):
    source = api.create_id(model=REMIX_MODEL, seconds=10, size="720x1280")
    steps.complete(source)
    source_job = api.get(source).data["externalVideoId"]

    reply = api.remix(source, "  The same boat, now at night  ")

    assert reply.status == 201, reply.body
    task = reply.data
    assert task["remixOf"] == source and task["retryOf"] is None
    assert task["prompt"] == "The same boat, now at night"
    assert (task["model"], task["seconds"], task["size"]) == (REMIX_MODEL, 10, "720x1280")
    assert "remixSource" not in task
    steps.submit(task["videoId"])
    assert fake_videos.remixed == [source_job]
    assert fake_videos.created[-1].prompt == "The same boat, now at night"
    steps.complete(task["videoId"])
    assert api.get(task["videoId"]).data["status"] == "COMPLETED"


def test_a_plain_create_is_never_sent_as_a_remix(api: Api, steps, fake_videos):
    steps.submit(api.create_id(model=REMIX_MODEL))

    assert fake_videos.remixed == []


@pytest.mark.parametrize("state", ["QUEUED", "PROCESSING", "FAILED", "CANCELLED"])
def test_remixing_a_task_that_is_not_completed_is_a_409_naming_its_state(api: Api, steps, aws_stack, state):
    source = api.create_id(model=REMIX_MODEL)
    if state == "PROCESSING":
        steps.submit(source)
    elif state == "FAILED":
        steps.fail(source)
    elif state == "CANCELLED":
        api.cancel(source)

    error = api.remix(source).error(409, "CONFLICT")

    assert state in error["message"]
    assert len(stored_tasks(aws_stack, "alice")) == 1


def test_remixing_a_video_of_a_model_that_cannot_remix_is_a_400_naming_the_model(api: Api, steps, aws_stack):
    source = api.create_id(model="kling-2.5-turbo-replicate")  # the replicate shape: no remix
    steps.complete(source)

    reply = api.remix(source)

    error = reply.error(400, "VALIDATION_ERROR")
    assert "kling-2.5-turbo-replicate" in error["message"]
    assert reply.fields() == ["model"]
    assert len(stored_tasks(aws_stack, "alice")) == 1


def test_an_image_cannot_be_remixed(api: Api, steps):
    source = api.create_id(type="IMAGE")
    steps.complete(source)

    api.remix(source).error(400, "VALIDATION_ERROR")


def test_remixing_another_users_video_is_a_404(api: Api, steps, aws_stack):
    theirs = api.as_user(OTHER_USER).create_id(model=REMIX_MODEL)
    steps.complete(theirs)

    api.remix(theirs).error(404, "NOT_FOUND")
    assert stored_tasks(aws_stack, "alice") == []


@pytest.mark.parametrize("prompt", ["", "   ", "x" * 4001, 42])
def test_a_remix_prompt_is_held_to_the_create_rules(api: Api, steps, aws_stack, prompt):
    source = api.create_id(model=REMIX_MODEL)
    steps.complete(source)

    api.remix(source, prompt).validation_error("prompt")
    assert len(stored_tasks(aws_stack, "alice")) == 1


def test_the_same_remix_key_replays_and_another_prompt_under_it_is_a_409(api: Api, steps):
    source = api.create_id(model=REMIX_MODEL)
    steps.complete(source)

    first = api.remix(source, "at night", key="remix-once")
    again = api.remix(source, "at night", key="remix-once")
    other = api.remix(source, "at dawn", key="remix-once")

    assert (first.status, again.status) == (201, 200)
    assert again.data["videoId"] == first.data["videoId"]
    other.error(409, "CONFLICT")
