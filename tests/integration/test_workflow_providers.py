"""The workflow speaks to each task's provider entry through the adapter protocol only: the provider's
own model name, the entry the task was created on, and only what the adapter says it can do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.aws import AwsStack, shared_client
from tests.fixtures.providers import FakeImages, FakeVideos
from videotasks.adapters.media import MediaStore
from videotasks.adapters.providers.protocol import Capabilities
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.catalog import Catalog, ProviderEntry
from videotasks.domain.errors import ProviderTransientError
from videotasks.domain.models import Task, TaskStatus
from videotasks.services.workflow import Workflow

LOST_REPLY = ProviderTransientError("POST timed out", code="PROVIDER_TIMEOUT")
NOTHING_EXTRA = Capabilities(
    progress=False, queue_position=False, eta=False, webhook=False, cancel=False, remix=False, reference_image=True
)


@pytest.fixture
def routed(
    aws_stack: AwsStack, repository: TaskRepository, fake_videos: FakeVideos, fake_images: FakeImages
) -> tuple[Workflow, list[ProviderEntry]]:
    """The real Workflow with the fake videos provider behind every entry, and the entries it asked for."""
    asked: list[ProviderEntry] = []

    def videos(entry: ProviderEntry) -> Any:
        asked.append(entry)
        return fake_videos

    settings = aws_stack.settings
    workflow = Workflow(
        settings,
        repository,
        Catalog.configured(settings),
        videos,
        lambda entry: fake_images,  # type: ignore[arg-type,return-value]
        MediaStore(settings.media_bucket, s3=shared_client("s3")),
    )
    return workflow, asked


def reload(repository: TaskRepository, task: Task) -> Task:
    current = repository.get(task.videoId)
    assert current is not None
    return current


def test_submit_sends_the_providers_model_name_to_the_tasks_entry(
    routed: tuple[Workflow, list[ProviderEntry]], stored_task: Callable[..., Task], fake_videos: FakeVideos
) -> None:
    workflow, asked = routed
    task = stored_task(
        model="kling-2.1-fal", provider="fal", providerModel="fal-ai/kling-video/v2.1/standard/text-to-video", seconds=5
    )

    assert workflow.submit(task.videoId).next == "WAIT"

    assert [entry.id for entry in asked] == ["fal"]
    assert fake_videos.created[0].model == "fal-ai/kling-video/v2.1/standard/text-to-video"


def test_poll_and_archive_use_the_entry_stored_on_the_task(
    routed: tuple[Workflow, list[ProviderEntry]],
    stored_task: Callable[..., Task],
    fake_videos: FakeVideos,
    repository: TaskRepository,
) -> None:
    workflow, asked = routed
    task = stored_task(model="veo-3.1-fast", provider="replicate", providerModel="someone/veo", seconds=8)
    workflow.submit(task.videoId)
    fake_videos.report("completed", 100)

    assert workflow.poll(task.videoId).next == "ARCHIVE"
    workflow.archive(task.videoId)

    assert {entry.id for entry in asked} == {"replicate"}
    assert reload(repository, task).status is TaskStatus.COMPLETED


def test_a_provider_that_cannot_list_is_not_asked_to_on_a_retried_submit(
    routed: tuple[Workflow, list[ProviderEntry]],
    stored_task: Callable[..., Task],
    fake_videos: FakeVideos,
    repository: TaskRepository,
) -> None:
    workflow, _ = routed
    fake_videos.CAPABILITIES = NOTHING_EXTRA  # type: ignore[misc]
    fake_videos.lose_create_reply = LOST_REPLY
    fake_videos.list_error = AssertionError("listed a provider that cannot list")  # type: ignore[assignment]
    task = stored_task(model="veo-3.1-fast", provider="gemini", providerModel="veo-3.1-fast-generate-preview")
    with pytest.raises(ProviderTransientError):
        workflow.submit(task.videoId)

    assert workflow.submit(task.videoId).next == "WAIT"

    assert len(fake_videos.created) == 2  # created again, under the same idempotency key
    assert {request.idempotency_key for request in fake_videos.created} == {f"videotasks-{task.videoId}"}
    assert reload(repository, task).externalTaskId == "ext_video_2"


@pytest.mark.parametrize("can_cancel", [True, False])
def test_a_job_made_for_a_task_cancelled_meanwhile_is_cancelled_only_where_the_provider_can(
    routed: tuple[Workflow, list[ProviderEntry]],
    stored_task: Callable[..., Task],
    fake_videos: FakeVideos,
    repository: TaskRepository,
    can_cancel: bool,
) -> None:
    workflow, _ = routed
    if not can_cancel:
        fake_videos.CAPABILITIES = NOTHING_EXTRA  # type: ignore[misc]
    task = stored_task(model="veo-3.1-fast", provider="gemini", providerModel="veo-3.1-fast-generate-preview")

    def cancel_meanwhile() -> None:
        current = repository.get(task.videoId)
        assert current is not None
        repository.transition(current, TaskStatus.CANCELLED)

    fake_videos.after_create = cancel_meanwhile

    assert workflow.submit(task.videoId).next == "DONE"
    assert fake_videos.cancelled == (["ext_video_1"] if can_cancel else [])


def test_a_task_whose_entry_left_the_catalog_fails_with_a_clear_code(
    routed: tuple[Workflow, list[ProviderEntry]], stored_task: Callable[..., Task], repository: TaskRepository
) -> None:
    workflow, _ = routed
    task = stored_task(model="veo-3.1-fast", provider="vertex", providerModel="veo")

    with pytest.raises(Exception, match="PROVIDER_NOT_CONFIGURED"):
        workflow.submit(task.videoId)  # the state machine's Catch ends it FAILED with that code
