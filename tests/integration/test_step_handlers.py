"""The Step Functions task functions (submit, poll, archive, fail) invoked with the state machine's
events, wired from the environment as in Lambda: settings from template.yaml, the provider key from
Secrets Manager (moto), and the real provider client talking HTTP to the fake provider (local/)."""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.fake_provider import VIDEO_FILE, FakeProviderConfig, serve_in_background
from local.lambdas import FunctionRegistry
from local.template import load_template
from tests.clocks import ManualClock
from videotasks import wiring
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import NotFoundError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.models import Task, TaskStatus, TaskType

Invoke = Callable[[str, Any], Any]
StepEvent = Callable[..., dict[str, Any]]
StoredTask = Callable[..., Task]

VIDEO_SECONDS = 10.0


@pytest.fixture
def provider_url(provider_clock: ManualClock, provider_key: str) -> Iterator[str]:
    config = FakeProviderConfig(video_seconds=VIDEO_SECONDS, api_key=provider_key, clock=provider_clock)
    with serve_in_background(config) as url:
        yield url


@pytest.fixture
def wired(start_aws: Callable[..., Any], provider_url: str) -> Any:
    """moto from template.yaml, with the template's ProviderBaseUrl pointing at the fake provider."""
    return start_aws({"ProviderBaseUrl": provider_url})


@pytest.fixture
def tasks(wired: Any) -> TaskRepository:
    return TaskRepository(wired.settings)


@pytest.fixture
def new_task(tasks: TaskRepository, make_task: Callable[..., Task]) -> StoredTask:
    return lambda **fields: tasks.create(make_task(**fields))


def provider_jobs(provider_url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{provider_url}/fake/jobs", timeout=5).json()["jobs"])


def stored(repository: TaskRepository, video_id: str) -> Task:
    task = repository.get(video_id)
    assert task is not None
    return task


def test_a_video_task_goes_through_submit_poll_and_archive_into_s3(
    wired: Any,
    invoke: Invoke,
    step_event: StepEvent,
    new_task: StoredTask,
    tasks: Any,
    provider_clock: ManualClock,
    provider_url: str,
) -> None:
    task = new_task(prompt="a heron taking off", seconds=4, size="720x1280")
    event = step_event(task.videoId)

    submitted = invoke("SubmitTaskFunction", event)
    assert submitted == {
        "videoId": task.videoId,
        "next": "WAIT",
        "waitSeconds": wired.settings.poll_interval_seconds,
        "awaitWebhook": False,
        "polling": {"polls": 0, "samples": []},
    }
    (job,) = provider_jobs(provider_url)
    assert job["prompt"] == "a heron taking off"
    assert stored(tasks, task.videoId).externalTaskId == job["id"]

    provider_clock.advance(VIDEO_SECONDS / 2)
    assert invoke("PollTaskFunction", submitted)["next"] == "WAIT"
    halfway = stored(tasks, task.videoId)
    assert halfway.status is TaskStatus.PROCESSING
    assert 0 < halfway.progress < 100

    provider_clock.advance(VIDEO_SECONDS)
    polled = invoke("PollTaskFunction", submitted)
    finished = polled.pop("finishedJob")
    assert polled == {"videoId": task.videoId, "next": "ARCHIVE", "waitSeconds": 0, "awaitWebhook": False}
    assert finished["raw_status"] == "completed"
    polled["finishedJob"] = finished

    assert invoke("ArchiveTaskFunction", polled)["next"] == "DONE"

    done = stored(tasks, task.videoId)
    assert (done.status, done.progress) == (TaskStatus.COMPLETED, 100)
    assert done.completedAt is not None
    media = wired.client("s3").get_object(Bucket=wired.bucket, Key=done.mediaKey)
    assert media["Body"].read() == VIDEO_FILE.read_bytes()
    assert media["ContentType"] == "video/mp4"


def test_an_image_task_is_finished_by_the_submit_function(
    wired: Any, invoke: Invoke, step_event: StepEvent, new_task: StoredTask, tasks: Any
) -> None:
    task = new_task(type=TaskType.IMAGE, model="gpt-image-1", seconds=None, size="1024x1024")

    assert invoke("SubmitTaskFunction", step_event(task.videoId))["next"] == "DONE"

    done = stored(tasks, task.videoId)
    assert done.status is TaskStatus.COMPLETED
    body = wired.client("s3").get_object(Bucket=wired.bucket, Key=done.mediaKey)["Body"].read()
    assert body.startswith(b"\x89PNG")


def test_the_fail_function_ends_the_task_failed_with_the_caught_errors_code_and_no_trace(
    wired: Any, invoke: Invoke, load_event: Callable[[str], dict[str, Any]], new_task: StoredTask, tasks: Any
) -> None:
    task = new_task()
    event = {**load_event("step_fail_task"), "videoId": task.videoId}  # the Catch result, as recorded

    assert invoke("FailTaskFunction", event) == {
        "videoId": task.videoId,
        "next": "DONE",
        "waitSeconds": 0,
        "awaitWebhook": False,
    }

    failed = stored(tasks, task.videoId)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "PROVIDER_REJECTED"
    assert failed.error.details is not None
    assert failed.error.details["providerMessage"].startswith("POST /v1/videos answered 400")
    assert "var/task" not in failed.error.message + failed.error.details["providerMessage"]


def test_a_step_for_a_task_that_does_not_exist_raises_for_the_catch(
    wired: Any, invoke: Invoke, step_event: StepEvent
) -> None:
    with pytest.raises(NotFoundError):
        invoke("PollTaskFunction", step_event("video_00000000-0000-4000-8000-000000000000"))


def test_an_unreachable_provider_raises_the_error_class_the_state_machine_retries(
    wired: Any, invoke: Invoke, step_event: StepEvent, new_task: StoredTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    task = new_task()
    monkeypatch.setenv("PROVIDER_BASE_URL", f"http://127.0.0.1:{closed_port}")
    wiring.reset()  # settings are read once per process, as in a Lambda container

    with pytest.raises(ProviderTransientError):
        invoke("SubmitTaskFunction", step_event(task.videoId))


def test_the_provider_key_is_read_from_secrets_manager(
    wired: Any, invoke: Invoke, step_event: StepEvent, new_task: StoredTask, tasks: Any
) -> None:
    secret = wired.environment["PROVIDER_API_KEY_SECRET"]
    wired.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="a-revoked-key")
    task = new_task()

    with pytest.raises(ProviderPermanentError) as refused:
        invoke("SubmitTaskFunction", step_event(task.videoId))

    assert refused.value.status_code == 401
    assert "a-revoked-key" not in str(refused.value)
    assert stored(tasks, task.videoId).status is TaskStatus.QUEUED


def test_a_poll_whose_provider_hangs_past_the_functions_timeout_gives_up_in_time_and_waits(
    wired: Any, invoke: Invoke, step_event: StepEvent, new_task: StoredTask, tasks: Any
) -> None:
    """The provider answers no status call for 45 s; PROVIDER_TIMEOUT_SECONDS alone (20 s) would let Lambda
    kill an 8 s Poll. The deadline from the invocation's remaining time makes the client give up first."""
    task = new_task(prompt="a heron taking off [fault:hang_status]")
    submitted = invoke("SubmitTaskFunction", step_event(task.videoId))
    template = copy.deepcopy(load_template())  # the cached template is everyone's: change a copy
    template["Resources"]["PollTaskFunction"]["Properties"]["Timeout"] = 8
    poll = FunctionRegistry(template).get("PollTaskFunction")

    polled = poll.invoke(submitted)  # FunctionTimeoutError if the call outlived the invocation

    assert polled["next"] == "WAIT"
    assert stored(tasks, task.videoId).pollAttempts == 1  # the hung call counts as one attempt
