"""The workflow's time rules: each step hands its invocation's deadline to the provider, an image keeps
time back for its download, archiving stops at the task's deadline plus a grace, and no wait sleeps past
the task's deadline. The workflow's clock is manual; deadlines use a manual monotonic clock too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.clocks import ManualClock
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderTransientError
from videotasks.domain.lifecycle import ARCHIVE_GRACE_SECONDS, archive_deadline, next_wait_seconds
from videotasks.domain.models import Task, TaskStatus, TaskType, parse_iso
from videotasks.services.workflow import IMAGE_STORE_RESERVE_SECONDS, Workflow

StoredTask = Callable[..., Task]
T0 = datetime(2026, 11, 28, 8, 0, 0)


def processing(workflow: Workflow, stored_task: StoredTask) -> Task:
    task = stored_task()
    assert workflow.submit(task.videoId).next == "WAIT"
    return task


def at_archive_deadline(clock: Any, task: Task, settings: Any, *, plus: float = 0.0) -> None:
    clock.now = archive_deadline(parse_iso(task.createdAt), settings.task_timeout_seconds) + timedelta(seconds=plus)


# -- the invocation's deadline reaches the provider ------------------------------------------------


def test_each_step_hands_its_deadline_to_the_provider(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any
) -> None:
    task = stored_task()
    deadline = Deadline.after(25.0)

    workflow.submit(task.videoId, deadline)
    workflow.poll(task.videoId, deadline)

    assert fake_videos.deadlines == [deadline, deadline]


def test_an_image_generation_leaves_time_for_the_download(
    workflow: Workflow, stored_task: StoredTask, fake_images: Any
) -> None:
    task = stored_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")
    ticks = ManualClock(1000.0)
    deadline = Deadline.after(296.0, clock=ticks)

    assert workflow.submit(task.videoId, deadline).next == "DONE"

    generation, download = fake_images.deadlines
    assert generation.remaining() == pytest.approx(296.0 - IMAGE_STORE_RESERVE_SECONDS)
    assert download is deadline


# -- archive is bounded by the task's deadline ------------------------------------------------------


def test_archive_past_the_tasks_deadline_and_grace_fails_the_task_with_timeout_without_downloading(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    workflow_clock: Any,
    aws_stack: Any,
) -> None:
    task = processing(workflow, stored_task)
    calls_before = len(fake_videos.deadlines)
    at_archive_deadline(workflow_clock, task, aws_stack.settings)

    assert workflow.archive(task.videoId, Deadline.after(290.0)).next == "DONE"

    stored = repository.get(task.videoId)
    assert stored is not None and stored.error is not None
    assert (stored.status, stored.error.code) == (TaskStatus.FAILED, "TIMEOUT")
    assert len(fake_videos.deadlines) == calls_before  # the provider was not asked again


def test_archives_download_deadline_is_the_tasks_when_that_comes_first(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, workflow_clock: Any, aws_stack: Any
) -> None:
    task = processing(workflow, stored_task)
    fake_videos.report("completed", 100)
    at_archive_deadline(workflow_clock, task, aws_stack.settings, plus=-30.0)  # 30 s of the grace left

    assert workflow.archive(task.videoId, Deadline.after(290.0)).next == "DONE"

    for deadline in fake_videos.deadlines[-2:]:  # get_job, then open_content
        assert deadline.remaining() <= 30.0


def test_a_transient_archive_failure_once_the_task_is_out_of_time_ends_it_with_timeout(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    workflow_clock: Any,
    aws_stack: Any,
) -> None:
    task = processing(workflow, stored_task)
    at_archive_deadline(workflow_clock, task, aws_stack.settings, plus=-1.0)

    def out_of_time_meanwhile(job_id: str, *, deadline: Deadline | None = None) -> None:
        at_archive_deadline(workflow_clock, task, aws_stack.settings, plus=1.0)  # the call took the rest of the grace
        raise ProviderTransientError("GET /v1/videos/x timed out", code="PROVIDER_TIMEOUT")

    fake_videos.get_job = out_of_time_meanwhile

    assert workflow.archive(task.videoId).next == "DONE"

    stored = repository.get(task.videoId)
    assert stored is not None and stored.error is not None
    assert (stored.status, stored.error.code) == (TaskStatus.FAILED, "TIMEOUT")


def test_a_transient_archive_failure_within_the_tasks_time_is_raised_for_the_retry(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any
) -> None:
    task = processing(workflow, stored_task)
    fake_videos.fail_next_poll(ProviderTransientError("GET /v1/videos/x answered 503"))

    with pytest.raises(ProviderTransientError):
        workflow.archive(task.videoId)


# -- waits ------------------------------------------------------------------------------------------


def test_the_wait_before_a_poll_is_the_interval_while_the_deadline_is_far() -> None:
    assert next_wait_seconds(30, created_at=T0, now=T0 + timedelta(seconds=10), timeout_seconds=900) == 30


def test_the_wait_before_a_poll_never_sleeps_past_the_tasks_deadline() -> None:
    now = T0 + timedelta(seconds=890)
    assert next_wait_seconds(30, created_at=T0, now=now, timeout_seconds=900) == 10


def test_the_wait_is_at_least_a_second_once_the_deadline_has_passed() -> None:
    now = T0 + timedelta(seconds=1000)
    assert next_wait_seconds(30, created_at=T0, now=now, timeout_seconds=900) == 1


def test_the_archive_deadline_is_the_task_deadline_plus_the_grace() -> None:
    assert archive_deadline(T0, 900) == T0 + timedelta(seconds=900 + ARCHIVE_GRACE_SECONDS)
