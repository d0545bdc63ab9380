"""The state machine's steps (submit, poll, archive, fail) on moto, with a scripted fake provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import (
    NotFoundError,
    ProviderJobLostError,
    ProviderPermanentError,
    ProviderTransientError,
    TaskStoreBusyError,
)
from videotasks.domain.failures import sentence
from videotasks.domain.models import Task, TaskStatus, TaskType, parse_iso
from videotasks.services.workflow import Workflow, carried_job

StoredTask = Callable[..., Task]


@pytest.fixture
def cancel(repository: TaskRepository) -> Callable[[str], None]:
    """The user's cancel as the API writes it: a conditional move to CANCELLED."""

    def cancel_task(video_id: str) -> None:
        task = repository.get(video_id)
        assert task is not None
        repository.transition(task, TaskStatus.CANCELLED)

    return cancel_task


def reload(repository: TaskRepository, task: Task) -> Task:
    current = repository.get(task.videoId)
    assert current is not None
    return current


def submitted(workflow: Workflow, stored_task: StoredTask, **fields: Any) -> Task:
    task = stored_task(**fields)
    assert workflow.submit(task.videoId).next == "WAIT"
    return task


# -- submit -----------------------------------------------------------------------------------------


def test_submit_sends_the_task_to_the_provider_and_waits(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, aws_stack: Any
) -> None:
    task = stored_task(prompt="a lighthouse at dusk", model="sora-2", seconds=8, size="1280x720")

    result = workflow.submit(task.videoId)

    # sora-2 has no typical time in the catalog and none was learned: the fixed interval.
    assert result.as_dict() == {
        "videoId": task.videoId,
        "next": "WAIT",
        "waitSeconds": aws_stack.settings.poll_interval_seconds,
        "awaitWebhook": False,
        "polling": {"polls": 0, "samples": []},
    }
    (request,) = fake_videos.created
    assert (request.prompt, request.model, request.seconds, request.size) == (
        "a lighthouse at dusk",
        "sora-2",
        8,
        "1280x720",
    )


def test_submit_stores_the_external_id_once_and_goes_processing(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, aws_stack: Any
) -> None:
    task = stored_task(metadata={"source": "desktop"})

    workflow.submit(task.videoId)

    stored = reload(repository, task)
    assert stored.status is TaskStatus.PROCESSING
    assert stored.externalTaskId == "ext_video_1"
    assert stored.metadata == {"source": "desktop"}  # clients get metadata.externalTaskId from the field
    assert stored.providerStatus == "queued"
    assert aws_stack.counters("alice")["processing"] == 1


def test_a_retried_submit_after_its_write_landed_does_not_submit_twice(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any
) -> None:
    task = submitted(workflow, stored_task)

    assert workflow.submit(task.videoId).next == "WAIT"
    assert len(fake_videos.created) == 1


@pytest.mark.parametrize("status", [TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.COMPLETED])
def test_submit_of_a_terminal_task_changes_nothing(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, status: TaskStatus
) -> None:
    task = stored_task(status=status)

    assert workflow.submit(task.videoId).next == "DONE"
    assert fake_videos.created == []
    assert reload(repository, task).status is status


def test_a_cancel_landing_during_submit_cancels_the_job_at_the_provider(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, cancel: Any
) -> None:
    task = stored_task()
    fake_videos.after_create = lambda: cancel(task.videoId)

    assert workflow.submit(task.videoId).next == "DONE"
    assert fake_videos.cancelled == ["ext_video_1"]
    assert reload(repository, task).status is TaskStatus.CANCELLED


@pytest.mark.parametrize(
    "error",
    [ProviderTransientError("relay down", status_code=503), ProviderPermanentError("refused", status_code=400)],
    ids=["transient", "permanent"],
)
def test_a_provider_error_on_submit_is_raised_for_the_state_machine_to_retry_or_catch(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, error: Exception
) -> None:
    task = stored_task()
    fake_videos.create_error = error

    with pytest.raises(type(error)):
        workflow.submit(task.videoId)
    assert reload(repository, task).status is TaskStatus.QUEUED


# -- submit at most once ----------------------------------------------------------------------------

LOST_REPLY = ProviderTransientError("POST /v1/videos timed out", code="PROVIDER_TIMEOUT")


def test_every_create_carries_an_idempotency_key_derived_from_the_video_id(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, fake_images: Any
) -> None:
    video = stored_task()
    image = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")

    workflow.submit(video.videoId)
    workflow.submit(image.videoId)

    assert [request.idempotency_key for request in fake_videos.created] == [f"videotasks-{video.videoId}"]
    assert [request.idempotency_key for request in fake_images.generated] == [f"videotasks-{image.videoId}"]


def test_submit_marks_the_task_before_asking_the_provider(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = stored_task()
    fake_videos.create_error = LOST_REPLY

    with pytest.raises(ProviderTransientError):
        workflow.submit(task.videoId)

    stored = reload(repository, task)
    assert (stored.status, stored.submitAttempts, stored.submitStartedAt is not None) == (TaskStatus.QUEUED, 1, True)


def test_a_submit_retried_after_a_lost_create_reply_adopts_the_job_instead_of_creating_another(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = stored_task(prompt="a heron in the rain")
    fake_videos.lose_create_reply = LOST_REPLY
    with pytest.raises(ProviderTransientError):
        workflow.submit(task.videoId)  # the job exists at the provider; the reply never came

    assert workflow.submit(task.videoId).next == "WAIT"

    assert len(fake_videos.created) == 1
    stored = reload(repository, task)
    assert (stored.status, stored.externalTaskId) == (TaskStatus.PROCESSING, "ext_video_1")


@pytest.mark.parametrize(
    "why",
    ["the listing shows no prompts", "the provider has no list", "the job is another task's"],
)
def test_a_retried_submit_that_cannot_be_sure_which_job_is_its_own_creates_again(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, why: str
) -> None:
    if why == "the job is another task's":
        other = stored_task(prompt="same words")
        workflow.submit(other.videoId)  # ext_video_1, claimed by `other`
        fake_videos.create_error = LOST_REPLY  # our first create fails before any job is made
    elif why == "the provider has no list":
        fake_videos.lose_create_reply = LOST_REPLY
        fake_videos.list_error = ProviderPermanentError("GET /v1/videos answered 404", status_code=404)
    else:
        fake_videos.lose_create_reply = LOST_REPLY
        fake_videos.list_prompts = False
    task = stored_task(prompt="same words")
    with pytest.raises(ProviderTransientError):
        workflow.submit(task.videoId)
    fake_videos.create_error = None

    assert workflow.submit(task.videoId).next == "WAIT"

    assert reload(repository, task).externalTaskId == f"ext_video_{len(fake_videos.created)}"
    assert fake_videos.created[-1].idempotency_key == f"videotasks-{task.videoId}"  # the provider's own guard
    assert reload(repository, task).submitAttempts == 2


def test_a_cancel_landing_before_the_submit_mark_ends_the_step_without_asking_the_provider(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    cancel: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = stored_task()
    mark = repository.update_running

    def cancelled_first(current: Task, **changes: Any) -> Task:
        cancel(current.videoId)
        return mark(current, **changes)

    monkeypatch.setattr(repository, "update_running", cancelled_first)

    assert workflow.submit(task.videoId).next == "DONE"
    assert fake_videos.created == []
    assert reload(repository, task).status is TaskStatus.CANCELLED


def test_two_unclaimed_jobs_that_both_match_are_not_adopted(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    first, second = stored_task(prompt="twins"), stored_task(prompt="twins")
    fake_videos.lose_create_reply = LOST_REPLY
    with pytest.raises(ProviderTransientError):
        workflow.submit(first.videoId)
    fake_videos.lose_create_reply = LOST_REPLY
    with pytest.raises(ProviderTransientError):
        workflow.submit(second.videoId)

    workflow.submit(first.videoId)

    assert len(fake_videos.created) == 3
    assert reload(repository, first).externalTaskId == "ext_video_3"


def test_a_step_for_an_unknown_task_raises_not_found(workflow: Workflow, aws_stack: Any) -> None:
    with pytest.raises(NotFoundError):
        workflow.poll("video_00000000-0000-4000-8000-000000000000")


def test_an_image_task_is_generated_stored_and_completed_in_the_submit_step(
    workflow: Workflow, stored_task: StoredTask, fake_images: Any, repository: TaskRepository, aws_stack: Any
) -> None:
    task = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")

    assert workflow.submit(task.videoId).next == "DONE"

    stored = reload(repository, task)
    assert stored.status is TaskStatus.COMPLETED
    assert stored.externalTaskId == "img_1"
    assert stored.mediaKey == f"media/{task.videoId}.png"
    obj = aws_stack.client("s3").get_object(Bucket=aws_stack.bucket, Key=stored.mediaKey)
    assert obj["Body"].read() == fake_images.media
    assert obj["ContentType"] == "image/png"


def test_a_cancel_landing_during_image_generation_leaves_it_cancelled_and_ends_the_step(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_images: Any,
    repository: TaskRepository,
    aws_stack: Any,
    cancel: Any,
) -> None:
    task = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")
    fake_images.after_generate = lambda: cancel(task.videoId)

    assert workflow.submit(task.videoId).next == "DONE"
    assert reload(repository, task).status is TaskStatus.CANCELLED
    assert aws_stack.media_keys() == []


def test_an_image_whose_download_failed_once_is_completed_by_the_retried_submit(
    workflow: Workflow, stored_task: StoredTask, fake_images: Any, repository: TaskRepository
) -> None:
    task = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")
    fake_images.content_errors.append(ProviderTransientError("GET /img.png timed out", code="PROVIDER_TIMEOUT"))
    with pytest.raises(ProviderTransientError):
        workflow.submit(task.videoId)  # the state machine's Retry runs the step again

    step = workflow.submit(task.videoId)
    while step.next != "DONE":  # the state machine's loop: WAIT -> poll, ARCHIVE -> archive
        step = workflow.poll(task.videoId) if step.next == "WAIT" else workflow.archive(task.videoId)

    assert reload(repository, task).status is TaskStatus.COMPLETED


# -- poll -------------------------------------------------------------------------------------------


def test_poll_records_progress_and_waits(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("in_progress", 40)

    assert workflow.poll(task.videoId).next == "WAIT"

    stored = reload(repository, task)
    assert (stored.status, stored.progress, stored.pollAttempts, stored.providerStatus) == (
        TaskStatus.PROCESSING,
        40,
        1,
        "in_progress",
    )


def test_progress_never_goes_down_when_the_provider_reports_less(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    for progress in (40, 25, 60, None):
        fake_videos.report("in_progress", progress)
        workflow.poll(task.videoId)

    assert reload(repository, task).progress == 60


def test_a_relay_status_word_keeps_the_task_waiting_and_is_kept_raw(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("NOT_START", 0)

    assert workflow.poll(task.videoId).next == "WAIT"
    assert reload(repository, task).providerStatus == "NOT_START"


def test_a_finished_job_goes_to_archive_without_completing_yet(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)

    result = workflow.poll(task.videoId).as_dict()

    finished = result.pop("finishedJob")
    assert result == {"videoId": task.videoId, "next": "ARCHIVE", "waitSeconds": 0, "awaitWebhook": False}
    assert (finished["id"], finished["raw_status"]) == (task_external_id(repository, task), "completed")
    assert carried_job(json.loads(json.dumps(result | {"finishedJob": finished}))) == carried_job(
        {"finishedJob": finished}
    ), "the state machine carries it as JSON"
    assert reload(repository, task).status is TaskStatus.PROCESSING


def task_external_id(repository: TaskRepository, task: Task) -> str | None:
    return reload(repository, task).externalTaskId


def seen_finished(workflow: Workflow, stored_task: StoredTask, fake_videos: Any) -> tuple[Task, dict[str, Any]]:
    """A task whose poll saw its job finished, and that poll's output (what Archive is handed)."""
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)
    return task, workflow.poll(task.videoId).as_dict()


def test_archive_takes_the_finished_job_the_poll_saw_without_asking_the_provider_again(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task, polled = seen_finished(workflow, stored_task, fake_videos)
    calls = len(fake_videos.polled)

    assert workflow.archive(task.videoId, finished=carried_job(polled)).next == "DONE"

    assert len(fake_videos.polled) == calls
    assert reload(repository, task).status is TaskStatus.COMPLETED


def test_a_carried_finished_job_whose_media_address_went_stale_is_asked_for_once_more(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task, polled = seen_finished(workflow, stored_task, fake_videos)
    fake_videos.content_errors.append(ProviderPermanentError("GET media answered 410", code="PROVIDER_CONTENT_GONE"))
    calls = len(fake_videos.polled)

    assert workflow.archive(task.videoId, finished=carried_job(polled)).next == "DONE"

    assert len(fake_videos.polled) == calls + 1
    assert reload(repository, task).status is TaskStatus.COMPLETED


def test_a_carried_job_of_another_job_id_is_not_trusted(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task, polled = seen_finished(workflow, stored_task, fake_videos)
    polled["finishedJob"]["id"] = "somebody_elses_job"
    calls = len(fake_videos.polled)

    workflow.archive(task.videoId, finished=carried_job(polled))

    assert len(fake_videos.polled) == calls + 1
    assert fake_videos.opened[-1].id == task_external_id(repository, task)


def test_a_provider_failure_fails_the_task_with_our_code_and_keeps_the_providers_words_in_details(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, aws_stack: Any
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("failed", 50, error_code="moderation_blocked", error_message="The prompt was blocked")

    assert workflow.poll(task.videoId).next == "DONE"

    stored = reload(repository, task)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert (stored.error.code, stored.error.message) == ("CONTENT_POLICY", sentence("CONTENT_POLICY"))
    assert stored.error.details == {"providerCode": "moderation_blocked", "providerMessage": "The prompt was blocked"}
    assert stored.providerStatus == "failed"
    assert (aws_stack.counters("alice")["failed"], aws_stack.counters("alice")["processing"]) == (1, 0)


def test_a_provider_failure_without_a_code_is_provider_failed(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("expired")

    workflow.poll(task.videoId)

    stored = reload(repository, task)
    assert stored.error is not None
    assert stored.error.code == "PROVIDER_FAILED"


def test_a_job_cancelled_at_the_provider_fails_the_task(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("cancelled")

    workflow.poll(task.videoId)

    stored = reload(repository, task)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "PROVIDER_CANCELLED"


def test_a_transient_poll_error_keeps_the_task_waiting(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("in_progress", 30)
    workflow.poll(task.videoId)
    fake_videos.fail_next_poll(ProviderTransientError("GET /v1/videos/x answered 503", status_code=503))

    assert workflow.poll(task.videoId).next == "WAIT"

    stored = reload(repository, task)
    assert (stored.status, stored.progress, stored.pollAttempts, stored.error) == (TaskStatus.PROCESSING, 30, 2, None)


def test_a_job_the_provider_lost_fails_the_task(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.fail_next_poll(ProviderJobLostError("GET /v1/videos/ext_video_1 answered 404", status_code=404))

    assert workflow.poll(task.videoId).next == "DONE"

    stored = reload(repository, task)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "PROVIDER_JOB_LOST"


def test_reaching_the_poll_limit_fails_the_task_with_timeout(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    workflow = make_workflow(max_poll_attempts=3)
    task = submitted(workflow, stored_task)
    fake_videos.report("in_progress", 10)

    assert [workflow.poll(task.videoId).next for _ in range(3)] == ["WAIT", "WAIT", "DONE"]

    stored = reload(repository, task)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "TIMEOUT"


def test_a_provider_outage_lasting_past_the_poll_limit_ends_in_timeout(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    workflow = make_workflow(max_poll_attempts=2)
    task = submitted(workflow, stored_task)
    for _ in range(2):
        fake_videos.fail_next_poll(ProviderTransientError("timed out", code="PROVIDER_TIMEOUT"))

    assert [workflow.poll(task.videoId).next for _ in range(2)] == ["WAIT", "DONE"]

    stored = reload(repository, task)
    assert stored.error is not None
    assert (stored.status, stored.error.code) == (TaskStatus.FAILED, "TIMEOUT")


def test_running_past_the_task_timeout_fails_the_task_with_timeout(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    workflow_clock: Any,
    aws_stack: Any,
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("in_progress", 10)
    assert workflow.poll(task.videoId).next == "WAIT"

    workflow_clock.now = parse_iso(task.createdAt)
    workflow_clock.advance(aws_stack.settings.task_timeout_seconds)
    assert workflow.poll(task.videoId).next == "DONE"

    stored = reload(repository, task)
    assert stored.error is not None
    assert (stored.status, stored.error.code) == (TaskStatus.FAILED, "TIMEOUT")


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.CANCELLED])
def test_poll_of_a_task_that_is_not_processing_does_nothing(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, status: TaskStatus
) -> None:
    task = stored_task(status=status)

    assert workflow.poll(task.videoId).next == "DONE"
    assert fake_videos.polled == []
    assert reload(repository, task).status is status


def test_a_cancel_between_two_polls_stops_the_loop(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, cancel: Any
) -> None:
    task = submitted(workflow, stored_task)
    cancel(task.videoId)
    fake_videos.report("completed", 100)

    assert workflow.poll(task.videoId).next == "DONE"
    assert reload(repository, task).status is TaskStatus.CANCELLED


# -- archive ----------------------------------------------------------------------------------------


def test_archive_stores_the_media_in_s3_and_completes_the_task(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, aws_stack: Any
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)

    assert workflow.archive(task.videoId).next == "DONE"

    stored = reload(repository, task)
    assert stored.status is TaskStatus.COMPLETED
    assert stored.progress == 100
    assert stored.completedAt is not None
    assert parse_iso(stored.completedAt) >= parse_iso(stored.createdAt)
    assert stored.mediaKey == f"media/{task.videoId}.mp4"
    assert stored.metadata["mediaBytes"] == len(fake_videos.media)
    obj = aws_stack.client("s3").get_object(Bucket=aws_stack.bucket, Key=stored.mediaKey)
    assert obj["Body"].read() == fake_videos.media
    assert obj["ContentType"] == "video/mp4"
    counters = aws_stack.counters("alice")
    assert (counters["completed"], counters["processing"]) == (1, 0)


def test_a_cancel_landing_before_archives_write_leaves_cancelled_and_deletes_the_copy(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    aws_stack: Any,
    cancel: Any,
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)
    fake_videos.after_download = lambda: cancel(task.videoId)

    assert workflow.archive(task.videoId).next == "DONE"

    assert reload(repository, task).status is TaskStatus.CANCELLED
    assert aws_stack.media_keys() == []
    counters = aws_stack.counters("alice")
    assert (counters["cancelled"], counters.get("completed", 0)) == (1, 0)


def test_archive_of_a_cancelled_task_stores_nothing(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, aws_stack: Any, cancel: Any
) -> None:
    task = submitted(workflow, stored_task)
    cancel(task.videoId)

    assert workflow.archive(task.videoId).next == "DONE"
    assert aws_stack.media_keys() == []


def test_media_gone_at_the_provider_is_raised_for_the_state_machine_to_catch(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.fail_next_poll(ProviderPermanentError("gone", code="PROVIDER_CONTENT_GONE"))

    with pytest.raises(ProviderPermanentError):
        workflow.archive(task.videoId)
    assert reload(repository, task).status is TaskStatus.PROCESSING


def test_html_served_as_the_video_is_refused_and_nothing_is_stored(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, aws_stack: Any
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)
    fake_videos.media, fake_videos.content_type = b"<html><script>alert(1)</script></html>", "text/html"

    with pytest.raises(ProviderPermanentError) as caught:
        workflow.archive(task.videoId)

    assert caught.value.code == "PROVIDER_BAD_MEDIA"
    assert "text/html" in caught.value.message
    assert aws_stack.media_keys() == []
    assert reload(repository, task).status is TaskStatus.PROCESSING  # the Catch's fail step ends it


def test_video_served_as_octet_stream_is_stored_under_its_sniffed_type_inline(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository, aws_stack: Any
) -> None:
    task = submitted(workflow, stored_task)
    fake_videos.report("completed", 100)
    fake_videos.content_type = "binary/octet-stream"

    workflow.archive(task.videoId)

    stored = reload(repository, task)
    assert (stored.mediaKey, stored.mediaContentType) == (f"media/{task.videoId}.mp4", "video/mp4")
    obj = aws_stack.client("s3").get_object(Bucket=aws_stack.bucket, Key=stored.mediaKey)
    assert obj["ContentType"] == "video/mp4"
    assert obj["ContentDisposition"] == f'inline; filename="{task.videoId}.mp4"'
    assert obj["Body"].read() == fake_videos.media


def test_an_svg_image_is_refused_and_nothing_is_stored(
    workflow: Workflow, stored_task: StoredTask, fake_images: Any, aws_stack: Any
) -> None:
    task = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")
    fake_images.media, fake_images.content_type = b'<svg onload="alert(1)"/>', "image/svg+xml"

    with pytest.raises(ProviderPermanentError, match="image/svg\\+xml") as caught:
        workflow.submit(task.videoId)

    assert caught.value.code == "PROVIDER_BAD_MEDIA"
    assert aws_stack.media_keys() == []


# -- fail (the Catch target) ------------------------------------------------------------------------


def lambda_cause(error_type: str, message: str, *, trace: bool = True) -> str:
    """A Catch ``Cause`` as Lambda writes it: the error JSON, with a stack trace."""
    body: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    if trace:
        body["stackTrace"] = ['  File "/var/task/app.py", line 16, in lambda_handler\n', "    secret = 'sk-live-123'\n"]
    return json.dumps(body)


@pytest.mark.parametrize(
    ("error", "cause", "code", "message"),
    [
        (
            "ProviderPermanentError",
            lambda_cause("ProviderPermanentError", "PROVIDER_REJECTED: POST /v1/videos answered 400: bad size"),
            "PROVIDER_REJECTED",
            sentence("PROVIDER_REJECTED"),
        ),
        (
            "ProviderTransientError",
            lambda_cause("ProviderTransientError", "PROVIDER_RATE_LIMITED: answered 429"),
            "PROVIDER_RATE_LIMITED",
            sentence("PROVIDER_RATE_LIMITED"),
        ),
        ("States.Timeout", "The task timed out.", "TIMEOUT", sentence("TIMEOUT")),
        (
            "KeyError",
            lambda_cause("KeyError", "'videoId'"),
            "INTERNAL",
            "The task failed because of an internal error",
        ),
    ],
    ids=["coded-permanent", "coded-transient", "states-timeout", "unexpected"],
)
def test_fail_ends_the_task_failed_with_the_error_code_of_the_caught_cause(
    workflow: Workflow,
    stored_task: StoredTask,
    repository: TaskRepository,
    error: str,
    cause: str,
    code: str,
    message: str,
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)

    assert workflow.fail(task.videoId, error, cause).next == "DONE"

    stored = reload(repository, task)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert (stored.error.code, stored.error.message) == (code, message)
    assert "var/task" not in stored.error.message
    assert "sk-live" not in stored.error.message
    assert "sk-live" not in json.dumps(stored.error.details)


def test_fail_of_a_queued_task_fails_it_too(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository
) -> None:
    task = stored_task()

    workflow.fail(
        task.videoId, "ProviderTransientError", lambda_cause("ProviderTransientError", "PROVIDER_UNAVAILABLE: 503")
    )

    assert reload(repository, task).status is TaskStatus.FAILED


@pytest.mark.parametrize("status", [TaskStatus.CANCELLED, TaskStatus.COMPLETED])
def test_fail_of_a_terminal_task_leaves_it_as_it_is(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository, status: TaskStatus
) -> None:
    task = stored_task(status=status)

    assert workflow.fail(task.videoId, "States.Timeout", "late").next == "DONE"

    stored = reload(repository, task)
    assert (stored.status, stored.error) == (status, None)


def test_a_completion_the_busy_store_refused_leaves_no_copy_for_a_cancel_to_strand(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    aws_stack: Any,
    cancel: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task, polled = seen_finished(workflow, stored_task, fake_videos)

    def busy(*_: Any, **__: Any) -> Task:
        raise TaskStoreBusyError()

    monkeypatch.setattr(repository, "transition", busy)
    with pytest.raises(TaskStoreBusyError):  # the state machine retries the step
        workflow.archive(task.videoId, finished=carried_job(polled))
    monkeypatch.undo()
    assert aws_stack.media_keys() == []

    cancel(task.videoId)  # before the retry: the retry finds the task ended and stops
    assert workflow.archive(task.videoId, finished=carried_job(polled)).next == "DONE"

    assert reload(repository, task).status is TaskStatus.CANCELLED
    assert aws_stack.media_keys() == []
