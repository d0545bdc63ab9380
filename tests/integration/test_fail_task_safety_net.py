"""fail_task as the EventBridge safety net: executions that end outside the state machine's Catch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.aws import AwsStack
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import Task, TaskStatus


def _execution_ended(load_event: Callable[[str], dict[str, Any]], video_id: str, status: str) -> dict[str, Any]:
    event = load_event("eventbridge_execution_timed_out")
    event["detail"] = {**event["detail"], "status": status, "input": json.dumps({"videoId": video_id})}
    return event


@pytest.mark.parametrize(
    ("status", "code"), [("TIMED_OUT", "TIMEOUT"), ("ABORTED", "EXECUTION_ABORTED"), ("FAILED", "INTERNAL")]
)
def test_an_execution_ended_outside_the_workflow_fails_its_running_task(
    invoke: Callable[[str, Any], Any],
    load_event: Callable[[str], dict[str, Any]],
    stored_task: Callable[..., Task],
    repository: TaskRepository,
    aws_stack: AwsStack,
    status: str,
    code: str,
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)

    result = invoke("FailTaskFunction", _execution_ended(load_event, task.videoId, status))

    stored = repository.get(task.videoId)
    assert stored is not None
    assert result["next"] == "DONE"
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == code
    assert aws_stack.counters(task.userId)["failed"] == 1


def test_the_abort_that_a_users_cancel_causes_leaves_the_cancelled_task_alone(
    invoke: Callable[[str, Any], Any],
    load_event: Callable[[str], dict[str, Any]],
    stored_task: Callable[..., Task],
    repository: TaskRepository,
) -> None:
    task = stored_task(status=TaskStatus.CANCELLED)

    invoke("FailTaskFunction", _execution_ended(load_event, task.videoId, "ABORTED"))

    stored = repository.get(task.videoId)
    assert stored is not None
    assert stored.status is TaskStatus.CANCELLED
    assert stored.error is None
