"""The workflow's waits follow the polling policy: its state travels in the step results, the model's
learned generation times are read once at submit and recorded at completion, and ``Retry-After`` and an
awaited webhook change the wait."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.clocks import ManualClock
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import ProviderTransientError
from videotasks.domain.models import Task
from videotasks.domain.polling import FIRST_POLL_FRACTION, MIN_LEARNED
from videotasks.services.workflow import Workflow, carried_polling

StoredTask = Callable[..., Task]
MODEL = "veo-3.1"  # the catalog's typical time: 120 s
WEBHOOK_BASE = "https://api.example.com/api/video/webhooks"


def test_submit_waits_a_share_of_the_models_catalog_time_and_hands_the_policy_state_on(
    workflow: Workflow, stored_task: StoredTask
) -> None:
    task = stored_task(model=MODEL)

    result = workflow.submit(task.videoId)

    assert result.waitSeconds == round(FIRST_POLL_FRACTION * 120)
    assert result.polling is not None
    assert result.polling["typical"][0] == 120
    assert result.polling["typical"][2] == 0  # nothing learned yet
    assert result.awaitWebhook is False


def test_submit_uses_the_times_learned_from_completed_tasks_of_the_model(
    workflow: Workflow, stored_task: StoredTask, repository: TaskRepository
) -> None:
    for _ in range(MIN_LEARNED):
        repository.record_generation_time(MODEL, 300)
    task = stored_task(model=MODEL)

    result = workflow.submit(task.videoId)

    assert result.polling is not None
    median, _, learned_from = result.polling["typical"]
    assert learned_from == MIN_LEARNED
    assert 276 <= median <= 331.2  # within the histogram bucket that holds 300 s
    assert result.waitSeconds > round(FIRST_POLL_FRACTION * 120)


def test_archive_records_the_generation_time_of_the_model(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, repository: TaskRepository
) -> None:
    task = stored_task(model=MODEL)
    workflow.submit(task.videoId)
    fake_videos.report("completed", 100)
    before = repository.generation_times(MODEL)

    assert workflow.archive(task.videoId).next == "DONE"

    after = repository.generation_times(MODEL)
    assert before is not None and after is not None
    assert (before.total, after.total) == (0, 1)


def test_a_poll_carries_its_reading_to_the_next_and_aims_at_the_predicted_end(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any, workflow_clock: ManualClock[datetime]
) -> None:
    task = stored_task(model=MODEL)
    submitted = workflow.submit(task.videoId).as_dict()
    workflow_clock.advance(40)
    fake_videos.report("in_progress", 40)

    polled = workflow.poll(task.videoId, polling=carried_polling(submitted))

    assert polled.polling is not None
    assert polled.polling["polls"] == 1
    ((elapsed, progress),) = polled.polling["samples"]
    assert progress == 40 and 39 <= elapsed <= 41
    # 40% in 40 s: done around 100 s, so about a minute from now (not the fixed interval).
    assert 55 <= polled.waitSeconds <= 70


def test_a_rate_limited_poll_waits_at_least_as_long_as_the_provider_asked(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any
) -> None:
    task = stored_task(model=MODEL)
    submitted = workflow.submit(task.videoId).as_dict()
    fake_videos.fail_next_poll(ProviderTransientError("GET answered 429", status_code=429, retry_after=97))

    polled = workflow.poll(task.videoId, polling=carried_polling(submitted))

    assert (polled.next, polled.waitSeconds) == ("WAIT", 97)


def test_an_awaited_webhook_makes_the_wait_a_long_fallback_and_is_carried_from_step_to_step(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask, fake_videos: Any
) -> None:
    workflow = make_workflow(lambda entry: True, poll_webhook_max_seconds=600, task_timeout_seconds=3600)
    task = stored_task(model=MODEL)

    submitted = workflow.submit(task.videoId, webhook_base=WEBHOOK_BASE).as_dict()
    fake_videos.report("in_progress", 10)
    polled = workflow.poll(task.videoId, polling=carried_polling(submitted))

    assert submitted["awaitWebhook"] is True and polled.awaitWebhook is True
    assert submitted["waitSeconds"] > 120  # past the model's slow time, not a third of its typical time
    assert polled.waitSeconds > 60
    fake_videos.report("completed", 100)
    assert workflow.poll(task.videoId, polling=carried_polling(polled.as_dict())).awaitWebhook is True


def test_no_wait_runs_past_the_tasks_deadline_whatever_the_policy_says(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask
) -> None:
    workflow = make_workflow(lambda entry: True, poll_webhook_max_seconds=900, task_timeout_seconds=100)
    task = stored_task(model=MODEL)

    result = workflow.submit(task.videoId, webhook_base=WEBHOOK_BASE)

    # The deadline counts from the task's creation, a moment before the test's clock started.
    assert 1 <= result.waitSeconds <= 101


def test_a_poll_without_carried_state_falls_back_to_the_catalogs_time(
    workflow: Workflow, stored_task: StoredTask, fake_videos: Any
) -> None:
    task = stored_task(model=MODEL)
    workflow.submit(task.videoId)
    fake_videos.report("in_progress")

    polled = workflow.poll(task.videoId)  # an execution started before the state was carried

    assert polled.polling is not None
    assert polled.polling["typical"][0] == 120


def test_a_task_whose_provider_takes_webhooks_asks_to_be_called_back_on_its_entrys_route(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask, fake_videos: Any
) -> None:
    asked: list[str] = []
    workflow = make_workflow(lambda entry: asked.append(entry.id) or True)
    task = stored_task(model=MODEL)

    result = workflow.submit(task.videoId, webhook_base=WEBHOOK_BASE + "/")

    assert [request.webhook_url for request in fake_videos.created] == [f"{WEBHOOK_BASE}/{asked[0]}"]
    assert result.awaitWebhook is True


def test_without_our_address_or_a_ready_entry_a_task_only_polls(
    make_workflow: Callable[..., Workflow], stored_task: StoredTask, fake_videos: Any
) -> None:
    not_ready = make_workflow(lambda entry: False)
    first = not_ready.submit(stored_task(model=MODEL).videoId, webhook_base=WEBHOOK_BASE)
    no_address = make_workflow(lambda entry: True)
    second = no_address.submit(stored_task(model=MODEL).videoId, webhook_base=None)

    assert [request.webhook_url for request in fake_videos.created] == [None, None]
    assert (first.awaitWebhook, second.awaitWebhook) == (False, False)
