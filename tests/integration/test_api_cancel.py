"""POST /api/video/tasks/{videoId}/cancel: a queued or running task ends CANCELLED, its execution is
stopped and the provider is asked to drop the job; a finished task is a 409 that changes nothing."""

from __future__ import annotations

import dataclasses

import pytest
from botocore.exceptions import ClientError

from tests.integration.api_harness import MISSING_VIDEO_ID, Api, media_objects
from videotasks import wiring
from videotasks.adapters.executions import Executions
from videotasks.domain.errors import ProviderPermanentError, ProviderTransientError
from videotasks.services import tasks as service_module

pytest_plugins = ["tests.integration.api_fixtures"]


def test_cancel_of_a_queued_task_ends_it_cancelled_and_stops_its_execution(api: Api, aws_stack, fake_videos, counters):
    video_id = api.create_id()

    reply = api.cancel(video_id)

    assert reply.status == 200, reply.body
    assert reply.data["videoId"] == video_id
    assert reply.data["status"] == "CANCELLED"
    assert api.get(video_id).data["status"] == "CANCELLED"
    assert aws_stack.execution(video_id)["status"] == "ABORTED"
    assert fake_videos.cancelled == []  # never submitted: nothing to cancel at the provider
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}


def test_cancel_while_processing_stops_the_execution_and_asks_the_provider_to_cancel(
    api: Api, steps, aws_stack, fake_videos, counters
):
    video_id = api.create_id()
    steps.submit(video_id)

    reply = api.cancel(video_id)

    assert reply.status == 200, reply.body
    assert reply.data["status"] == "CANCELLED"
    assert reply.data["externalVideoId"] == "ext_video_1"
    assert aws_stack.execution(video_id)["status"] == "ABORTED"
    assert fake_videos.cancelled == ["ext_video_1"]
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}


@pytest.mark.parametrize(
    "refusal",
    [
        ProviderPermanentError("job cannot be cancelled once rendering", status_code=400),
        ProviderTransientError("relay unavailable", status_code=503),
    ],
    ids=["refused", "unavailable"],
)
def test_a_provider_that_refuses_to_cancel_is_logged_and_the_task_is_still_cancelled(
    api: Api, steps, fake_videos, monkeypatch, spy_logger, refusal
):
    video_id = api.create_id()
    steps.submit(video_id)

    def refuse(job_id: str) -> None:
        raise refusal

    monkeypatch.setattr(fake_videos, "cancel_job", refuse)
    warnings = spy_logger(service_module.logger, "warning")

    reply = api.cancel(video_id)

    assert reply.status == 200, reply.body
    assert api.get(video_id).data["status"] == "CANCELLED"
    assert [(message, extra["reason"]) for message, extra in warnings] == [
        ("provider refused to cancel", refusal.message)
    ]


def test_an_execution_that_cannot_be_stopped_is_logged_and_the_task_is_still_cancelled(
    api: Api, monkeypatch, spy_logger
):
    video_id = api.create_id()

    def refuse(self, execution_arn, reason):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StopExecution")

    monkeypatch.setattr(Executions, "stop", refuse)
    failures = spy_logger(service_module.logger, "exception")

    reply = api.cancel(video_id)

    assert reply.status == 200, reply.body
    assert api.get(video_id).data["status"] == "CANCELLED"
    assert [message for message, _ in failures] == ["could not stop the execution"]


def test_cancel_is_a_200_even_when_the_provider_client_cannot_be_built(api: Api, steps, monkeypatch):
    video_id = api.create_id()
    steps.submit(video_id)

    def no_secret():
        raise ClientError({"Error": {"Code": "InternalServiceError", "Message": "try later"}}, "GetSecretValue")

    monkeypatch.setattr(wiring.task_service(), "_videos", no_secret)

    reply = api.cancel(video_id)

    assert api.get(video_id).data["status"] == "CANCELLED"  # the cancel itself is committed either way
    assert reply.status == 200, reply.body


def test_cancel_of_an_image_task_does_not_call_the_videos_provider(api: Api, fake_videos):
    video_id = api.create_id(type="IMAGE")

    reply = api.cancel(video_id)

    assert reply.data["status"] == "CANCELLED"
    assert fake_videos.cancelled == []


# -- finished tasks: 409, nothing changes --------------------------------------------------------------------


def test_cancel_after_completion_is_409_and_changes_nothing(api: Api, steps, aws_stack, fake_videos, counters):
    video_id = api.create_id()
    steps.complete(video_id)
    before = (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id))

    reply = api.cancel(video_id)

    reply.error(409, "CONFLICT")
    assert "COMPLETED" in reply.body["message"]
    assert (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id)) == before
    assert len(before[2]) == 1
    assert fake_videos.cancelled == []
    assert aws_stack.execution(video_id)["status"] == "RUNNING"  # not stopped by the refused cancel


def test_cancel_after_failure_is_409_and_changes_nothing(api: Api, steps, aws_stack, counters):
    video_id = api.create_id()
    steps.fail(video_id)
    before = (aws_stack.stored(video_id), counters())

    reply = api.cancel(video_id)

    reply.error(409, "CONFLICT")
    assert "FAILED" in reply.body["message"]
    assert (aws_stack.stored(video_id), counters()) == before


def test_cancel_twice_is_409_the_second_time_and_counts_once(api: Api, aws_stack, counters):
    video_id = api.create_id()
    api.cancel(video_id)
    before = (aws_stack.stored(video_id), counters())

    reply = api.cancel(video_id)

    reply.error(409, "CONFLICT")
    assert "CANCELLED" in reply.body["message"]
    assert (aws_stack.stored(video_id), counters()) == before
    assert counters()["cancelled"] == 1


def test_cancel_of_a_missing_task_is_404(api: Api):
    api.cancel(MISSING_VIDEO_ID).error(404, "NOT_FOUND")


# -- the workflow after a cancel ------------------------------------------------------------------------------


def test_a_submit_step_that_runs_after_the_cancel_does_not_start_a_provider_job(api: Api, steps, fake_videos):
    video_id = api.create_id()
    api.cancel(video_id)

    steps.submit(video_id)

    assert fake_videos.created == []
    assert api.get(video_id).data["status"] == "CANCELLED"


def test_poll_and_archive_steps_after_the_cancel_end_without_touching_the_task(
    api: Api, steps, aws_stack, fake_videos, counters
):
    video_id = api.create_id()
    steps.submit(video_id)
    api.cancel(video_id)
    before = (aws_stack.stored(video_id), counters())
    fake_videos.report("completed", 100)

    assert steps.workflow.poll(video_id).next == "DONE"
    assert steps.workflow.archive(video_id).next == "DONE"

    assert (aws_stack.stored(video_id), counters()) == before
    assert media_objects(aws_stack, video_id) == []


def test_cancel_does_not_ask_a_provider_that_cannot_cancel(api: Api, steps, fake_videos):
    fake_videos.CAPABILITIES = dataclasses.replace(fake_videos.CAPABILITIES, cancel=False)
    video_id = api.create_id()
    steps.submit(video_id)

    reply = api.cancel(video_id)

    assert reply.data["status"] == "CANCELLED"
    assert fake_videos.cancelled == []  # the job runs out at the provider; nothing will fetch it
