"""Races: cancel against completion and against submission, duplicate and stale workflow writes, and
concurrent duplicate creates. Interleavings are forced where one order is the point, and run in real
threads where any order must end consistent. Threads go through ``serialised_moto``, which makes each
AWS request atomic as DynamoDB does, so what is tested is our conditional writes, not moto's locking."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from tests.integration.api_harness import Api, executions, item_count, media_objects, recount, run_together
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.lifecycle import ProviderState
from videotasks.domain.models import TaskStatus

pytest_plugins = ["tests.integration.api_fixtures"]


def _interpose_before_write(monkeypatch, target: TaskStatus, action) -> None:
    """Run ``action`` once, after a writer has read the task and just before its write to ``target``."""
    original = TaskRepository.transition
    pending = [action]

    def transition(self, task, status, **changes):
        if status is target and pending:
            pending.pop()()
        return original(self, task, status, **changes)

    monkeypatch.setattr(TaskRepository, "transition", transition)


def _processing_with_a_finished_job(api: Api, steps, fake_videos) -> str:
    video_id = api.create_id()
    steps.submit(video_id)
    external_id = steps.repository.get(video_id).externalTaskId
    fake_videos.jobs[external_id] = dataclasses.replace(
        fake_videos.jobs[external_id], state=ProviderState.SUCCEEDED, raw_status="completed", progress=100
    )
    return video_id


# -- cancel against completion --------------------------------------------------------------------------------


def test_cancel_landing_while_the_archive_copies_wins_and_the_copy_is_removed(
    api: Api, steps, aws_stack, fake_videos, counters
):
    video_id = _processing_with_a_finished_job(api, steps, fake_videos)
    cancels = []
    fake_videos.after_download = lambda: cancels.append(api.cancel(video_id))

    assert steps.workflow.archive(video_id).next == "DONE"

    [cancel] = cancels
    assert cancel.status == 200, cancel.body
    task = api.get(video_id).data
    assert (task["status"], task["videoUrl"], task["completedAt"]) == ("CANCELLED", None, None)
    assert media_objects(aws_stack, video_id) == []
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}
    assert fake_videos.cancelled == ["ext_video_1"]
    api.content(video_id).error(409, "CONFLICT")


def test_completion_landing_between_the_cancels_read_and_write_wins_and_the_cancel_is_409(
    api: Api, steps, aws_stack, fake_videos, counters, monkeypatch
):
    video_id = _processing_with_a_finished_job(api, steps, fake_videos)
    _interpose_before_write(monkeypatch, TaskStatus.CANCELLED, lambda: steps.workflow.archive(video_id))

    reply = api.cancel(video_id)

    reply.error(409, "CONFLICT")
    assert "COMPLETED" in reply.body["message"]
    assert api.get(video_id).data["status"] == "COMPLETED"
    assert len(media_objects(aws_stack, video_id)) == 1
    assert counters() == {"total": 1, "completed": 1, "video_total": 1, "video_completed": 1}
    assert fake_videos.cancelled == []
    assert aws_stack.execution(video_id)["status"] == "RUNNING"
    assert api.content(video_id).status == 200


def test_cancel_and_archive_in_threads_always_end_in_one_consistent_state(
    api: Api, steps, aws_stack, fake_videos, serialised_moto
):
    video_ids = [_processing_with_a_finished_job(api, steps, fake_videos) for _ in range(6)]

    for video_id in video_ids:
        archived, cancelled = run_together(
            [lambda video_id=video_id: steps.workflow.archive(video_id), lambda video_id=video_id: api.cancel(video_id)]
        )

        assert not isinstance(archived, Exception), archived
        final = api.get(video_id).data["status"]
        assert (final, cancelled.status) in {("COMPLETED", 409), ("CANCELLED", 200)}, (final, cancelled.body)
        assert len(media_objects(aws_stack, video_id)) == (1 if final == "COMPLETED" else 0)
    stats = api.stats().data
    assert stats["byStatus"] == recount(aws_stack, "alice")["byStatus"]
    assert stats["completed"] + stats["cancelled"] == len(video_ids)


def test_two_cancels_at_once_cancel_once_and_count_once(api: Api, steps, fake_videos, counters, serialised_moto):
    video_id = api.create_id()
    steps.submit(video_id)

    replies = run_together([lambda: api.cancel(video_id), lambda: api.cancel(video_id)])

    assert sorted(reply.status for reply in replies) == [200, 409], replies
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}
    assert fake_videos.cancelled == ["ext_video_1"]  # only the cancel that won asks the provider


# -- cancel against submission ---------------------------------------------------------------------------------


def test_cancel_landing_while_submit_waits_for_the_provider_cancels_the_new_job(
    api: Api, steps, fake_videos, counters, monkeypatch
):
    video_id = api.create_id()
    create_job = fake_videos.create_job
    cancels = []

    def create_then_cancel(request, **options):
        job = create_job(request, **options)
        cancels.append(api.cancel(video_id))  # the user cancels while the provider accepts the job
        return job

    monkeypatch.setattr(fake_videos, "create_job", create_then_cancel)

    assert steps.workflow.submit(video_id).next == "DONE"

    assert cancels[0].status == 200, cancels[0].body
    assert api.get(video_id).data["status"] == "CANCELLED"
    assert fake_videos.cancelled == ["ext_video_1"]  # the job the cancel could not know about is dropped
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}


def test_cancel_racing_the_submit_step_still_cancels_the_now_processing_task(
    api: Api, steps, fake_videos, counters, monkeypatch
):
    video_id = api.create_id()
    _interpose_before_write(monkeypatch, TaskStatus.CANCELLED, lambda: steps.submit(video_id))

    reply = api.cancel(video_id)

    assert reply.status == 200, reply.body
    assert api.get(video_id).data["status"] == "CANCELLED"
    assert fake_videos.cancelled == ["ext_video_1"]
    assert counters() == {"total": 1, "cancelled": 1, "video_total": 1, "video_cancelled": 1}


# -- stale and duplicate workflow writes never count twice -------------------------------------------------------


def test_an_archive_step_retried_after_it_completed_changes_nothing(api: Api, steps, aws_stack, counters):
    video_id = api.create_id()
    steps.complete(video_id)
    before = (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id))

    assert steps.workflow.archive(video_id).next == "DONE"
    assert steps.workflow.poll(video_id).next == "DONE"
    assert steps.workflow.submit(video_id).next == "DONE"

    assert (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id)) == before


def test_two_archive_attempts_at_once_count_the_task_once_and_keep_its_media(
    api: Api, steps, make_workflow, aws_stack, fake_videos, counters
):
    # A retried Archive (Lambda.ServiceException) can run while the first attempt is still copying.
    video_id = _processing_with_a_finished_job(api, steps, fake_videos)
    retry = make_workflow()
    pending = [lambda: retry.archive(video_id)]
    fake_videos.after_download = lambda: pending and pending.pop()()  # the retry runs inside the first copy

    assert steps.workflow.archive(video_id).next == "DONE"

    assert pending == []
    assert api.get(video_id).data["status"] == "COMPLETED"
    assert counters() == {"total": 1, "completed": 1, "video_total": 1, "video_completed": 1}
    assert len(media_objects(aws_stack, video_id)) == 1
    assert api.content(video_id).status == 200


def test_a_write_from_a_stale_read_is_refused_and_counts_nothing(api: Api, steps, aws_stack, counters):
    video_id = api.create_id()
    steps.submit(video_id)
    stale = steps.repository.get(video_id)  # PROCESSING, as some step read it
    api.cancel(video_id)
    before = (aws_stack.stored(video_id), counters())

    for target in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        with pytest.raises(StaleWriteError):
            steps.repository.transition(stale, target)

    assert (aws_stack.stored(video_id), counters()) == before


def test_concurrent_writers_of_one_task_leave_exactly_one_terminal_state_counted(
    api: Api, steps, aws_stack, counters, serialised_moto
):
    video_id = api.create_id()
    steps.submit(video_id)
    snapshot = steps.repository.get(video_id)
    targets = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED] * 3

    results = run_together([lambda target=target: steps.repository.transition(snapshot, target) for target in targets])

    winners = [result for result in results if not isinstance(result, Exception)]
    assert len(winners) == 1, results
    assert all(isinstance(result, StaleWriteError) for result in results if result not in winners)
    final = winners[0].status.value
    assert aws_stack.stored(video_id)["status"] == final
    terminal = {name: value for name, value in counters().items() if name in ("completed", "failed", "cancelled")}
    assert terminal == {final.lower(): 1}
    assert recount(aws_stack, "alice")["byStatus"][final] == 1


# -- idempotency under concurrency -------------------------------------------------------------------------------


@pytest.mark.parametrize("keyed_by", ["header", "clientRequestId"])
def test_concurrent_duplicates_create_exactly_one_task_and_one_execution(
    api: Api, aws_stack, counters, serialised_moto, keyed_by
):
    def duplicate():
        if keyed_by == "header":
            return api.create(prompt="one of many clicks", key="double-click")
        return api.create(prompt="one of many clicks", clientRequestId="double-click")

    replies = run_together([duplicate] * 8)

    assert not [reply for reply in replies if isinstance(reply, Exception)], replies
    statuses = Counter(reply.status for reply in replies)
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 200, 409}, statuses  # 409: the first is still in flight, retry later
    assert len({reply.data["videoId"] for reply in replies if reply.status in (200, 201)}) == 1
    for reply in replies:
        if reply.status == 409:
            reply.error(409, "CONFLICT")
    assert item_count(aws_stack, "TASKS_TABLE") == 1
    assert len(executions(aws_stack)) == 1
    assert counters() == {"total": 1, "queued": 1, "video_total": 1, "video_queued": 1}


def test_concurrent_creates_with_different_keys_each_create_a_task(api: Api, aws_stack, serialised_moto):
    replies = run_together([lambda key=key: api.create(key=f"click-{key}") for key in range(6)])

    assert [reply.status for reply in replies] == [201] * 6, replies
    assert item_count(aws_stack, "TASKS_TABLE") == 6
    assert len(executions(aws_stack)) == 6
