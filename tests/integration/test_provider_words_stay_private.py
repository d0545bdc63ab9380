"""A provider's words, an HTTP method, path or status and an exception's text never reach what a user reads.

Each failure below is shaped as the adapters really raise it (``_http.raise_for_status`` writes
"<what> answered <status>: <provider's words>"), run through the workflow step that meets it, and then
read the way users read a failed task: the HTTP Task's ``error.message`` and the WebSocket message's
``message`` and ``error.message``, in both languages. The words stay in ``error.details``, for the owner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain import messages
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError
from videotasks.domain.models import Task, TaskStatus
from videotasks.domain.socket_outbound import task_message
from videotasks.domain.wire import task_json
from videotasks.services.workflow import Workflow

StoredTask = Callable[..., Task]

# What must never show: a method, a path or URL, a status number, our exception names, a stack trace.
_INTERNALS = re.compile(r"\b(GET|POST|PUT|DELETE)\b|/v\d|https?:|\b[45]\d\d\b|answered|Error\b|Traceback|/var/task")

LOST = "GET /v1/videos/ext_video_1 answered 404: No video found with id 'ext_video_1'"
BODY_500 = "GET https://relay.example/v1/videos/ext_video_1 answered 500: <html>upstream connect error</html>"


def _cause(error_type: str, message: str) -> str:
    return json.dumps(
        {
            "errorType": error_type,
            "errorMessage": message,
            "stackTrace": ['  File "/var/task/app.py", line 16, in lambda_handler\n'],
        }
    )


def _poll_lost(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    fake_videos.fail_next_poll(ProviderJobLostError(LOST, status_code=404))
    workflow.poll(task.videoId)


def _poll_refused(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    fake_videos.fail_next_poll(ProviderPermanentError(LOST.replace("404", "400"), code="INVALID_INPUT"))
    workflow.poll(task.videoId)


def _job_failed_with_a_body(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    fake_videos.report("failed", 40, error_code="server_error", error_message=BODY_500)
    workflow.poll(task.videoId)


def _caught_transient(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    # A submit whose 500s outlasted the state machine's retries: the Catch hands fail_task the message.
    cause = _cause("ProviderTransientError", f"PROVIDER_UNAVAILABLE: {BODY_500}")
    workflow.fail(task.videoId, "ProviderTransientError", cause)


def _caught_timeout(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    cause = _cause("ProviderTransientError", "PROVIDER_TIMEOUT: POST /v1/videos timed out")
    workflow.fail(task.videoId, "ProviderTransientError", cause)


def _caught_bad_reply(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    message = "PROVIDER_BAD_REPLY: GET /v1/videos/ext_video_1 returned an unusable reply: HTTP 502 body is not JSON"
    workflow.fail(task.videoId, "ProviderPermanentError", _cause("ProviderPermanentError", message))


def _caught_bug(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    workflow.fail(task.videoId, "KeyError", _cause("KeyError", "'videoId'"))


def _states_timeout(workflow: Workflow, fake_videos: Any, task: Task) -> None:
    workflow.fail(task.videoId, "States.Timeout", "The execution timed out after 3600 seconds at GET /v1/videos")


@pytest.mark.parametrize(
    ("make_it_fail", "code", "kept"),
    [
        (_poll_lost, "PROVIDER_JOB_LOST", LOST),
        (_poll_refused, "INVALID_INPUT", LOST.replace("404", "400")),
        (_job_failed_with_a_body, "PROVIDER_FAILED", BODY_500),
        (_caught_transient, "PROVIDER_UNAVAILABLE", BODY_500),
        (_caught_timeout, "PROVIDER_TIMEOUT", "POST /v1/videos timed out"),
        (_caught_bad_reply, "PROVIDER_BAD_REPLY", "GET /v1/videos/ext_video_1 returned an unusable reply"),
        (_caught_bug, "INTERNAL", None),
        (_states_timeout, "TIMEOUT", "The execution timed out after 3600 seconds at GET /v1/videos"),
    ],
    ids=[
        "job-lost-404",
        "refused-400",
        "job-failed-500-body",
        "caught-5xx",
        "caught-timeout",
        "bad-reply",
        "bug",
        "sfn",
    ],
)
def test_a_failed_tasks_user_facing_texts_carry_no_provider_internals(
    workflow: Workflow,
    stored_task: StoredTask,
    fake_videos: Any,
    repository: TaskRepository,
    make_it_fail: Callable[[Workflow, Any, Task], None],
    code: str,
    kept: str | None,
) -> None:
    task = stored_task()
    assert workflow.submit(task.videoId).next == "WAIT"

    make_it_fail(workflow, fake_videos, task)

    failed = repository.get(task.videoId)
    assert failed is not None and failed.status is TaskStatus.FAILED and failed.error is not None
    assert failed.error.code == code
    for lang in messages.LANGS:
        http_error = task_json(failed, video_url=None, lang=lang)["error"]
        socket = task_message(failed, video_url=None, timestamp_ms=0, lang=lang)["payload"]
        for shown in (http_error["message"], socket["message"], socket["error"]["message"]):
            assert not _INTERNALS.search(shown), (lang, shown)
            assert "ext_video_1" not in shown and "'videoId'" not in shown
    details = json.dumps(failed.error.details or {})
    if kept is not None:  # the owner can still see what happened
        assert kept in json.loads(details).get("providerMessage", json.loads(details).get("reason", "")), details
    assert "/var/task" not in details
