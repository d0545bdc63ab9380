"""The WebSocket contract's server messages and which task changes deserve one (videotasks.domain.socket_outbound)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.tasks import new_task
from videotasks.domain import socket_outbound
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType
from videotasks.domain.wire import WIRE_STATUS

STAMP = 1_763_027_892_000
CONTRACT_TYPES = {"taskProgress", "taskCompleted", "taskFailed", "taskCancelled"}


def _task(status: TaskStatus = TaskStatus.PROCESSING, **fields: Any) -> Task:
    defaults: dict[str, Any] = {"externalTaskId": "video_ext_1", "progress": 40}
    if status is TaskStatus.QUEUED:
        defaults = {"externalTaskId": None, "progress": 0}
    return new_task("alice", **{**defaults, "status": status, **fields})


def _message(task: Task, video_url: str | None = None) -> dict[str, Any]:
    return socket_outbound.task_message(task, video_url=video_url, timestamp_ms=STAMP)


# building -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (TaskStatus.QUEUED, "taskProgress"),
        (TaskStatus.PROCESSING, "taskProgress"),
        (TaskStatus.COMPLETED, "taskCompleted"),
        (TaskStatus.FAILED, "taskFailed"),
        (TaskStatus.CANCELLED, "taskCancelled"),
    ],
)
def test_every_status_maps_to_its_contract_message_with_both_ids_and_the_wire_status(
    status: TaskStatus, kind: str
) -> None:
    task = _task(status)

    message = _message(task, "https://media.test/v.mp4")

    assert message["type"] == kind
    assert message["timestamp"] == STAMP
    payload = message["payload"]
    assert payload["videoId"] == task.videoId
    assert payload["externalVideoId"] == task.externalTaskId
    assert payload["status"] == WIRE_STATUS[status]
    assert payload["progress"] == task.progress
    assert payload["updatedAt"] == task.updatedAt
    assert isinstance(payload["message"], str) and payload["message"]


def test_the_wire_statuses_are_the_old_backends_lowercase_words() -> None:
    statuses = {status: _message(_task(status))["payload"]["status"] for status in TaskStatus}

    assert statuses == {
        TaskStatus.QUEUED: "queued",
        TaskStatus.PROCESSING: "in_progress",
        TaskStatus.COMPLETED: "completed",
        TaskStatus.FAILED: "failed",
        TaskStatus.CANCELLED: "cancelled",
    }


def test_a_queued_task_has_no_external_id_yet_but_the_key_is_there() -> None:
    payload = _message(_task(TaskStatus.QUEUED))["payload"]

    assert "externalVideoId" in payload and payload["externalVideoId"] is None


def test_completed_carries_the_playable_url_as_result_video_url() -> None:
    message = _message(_task(TaskStatus.COMPLETED, progress=100), "https://media.test/signed.mp4?X-Amz=1")

    assert message["payload"]["result"] == {"videoUrl": "https://media.test/signed.mp4?X-Amz=1", "posterUrl": None}
    assert "error" not in message["payload"]


def test_failed_carries_the_tasks_error_and_no_result() -> None:
    task = _task(TaskStatus.FAILED, error=TaskError(code="TIMEOUT", message="The task ran out of time"))

    payload = _message(task)["payload"]

    assert payload["error"] == {"code": "TIMEOUT", "message": "The task ran out of time"}
    assert "result" not in payload
    assert payload["message"] == "The video failed: The task ran out of time"


def test_failed_without_a_recorded_error_still_says_why_in_the_contract_shape() -> None:
    payload = _message(_task(TaskStatus.FAILED, error=None))["payload"]

    assert set(payload["error"]) == {"code", "message"}


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.PROCESSING, TaskStatus.CANCELLED])
def test_only_completed_and_failed_carry_result_or_error(status: TaskStatus) -> None:
    payload = _message(_task(status))["payload"]

    assert "result" not in payload and "error" not in payload


def test_the_human_message_names_images_for_image_tasks_and_progress_while_running() -> None:
    assert "image" in _message(_task(TaskStatus.QUEUED, type=TaskType.IMAGE))["payload"]["message"]
    assert "65%" in _message(_task(TaskStatus.PROCESSING, progress=65))["payload"]["message"]


def test_control_replies_share_the_envelope() -> None:
    replies = [
        socket_outbound.pong(timestamp_ms=STAMP),
        socket_outbound.subscribed(None, timestamp_ms=STAMP),
        socket_outbound.unsubscribed("video_x", timestamp_ms=STAMP),
        socket_outbound.error("NOT_FOUND", "Task video_x not found", timestamp_ms=STAMP, video_id="video_x"),
    ]

    assert [reply["type"] for reply in replies] == ["pong", "subscribed", "unsubscribed", "error"]
    assert all(set(reply) == {"type", "timestamp", "payload"} for reply in replies)
    assert replies[1]["payload"] == {"videoId": None, "scope": "all"}
    assert replies[2]["payload"] == {"videoId": "video_x", "scope": "task"}
    assert replies[3]["payload"] == {"code": "NOT_FOUND", "message": "Task video_x not found", "videoId": "video_x"}


def test_an_error_can_name_the_known_actions() -> None:
    reply = socket_outbound.error("VALIDATION_ERROR", "Unknown action", timestamp_ms=STAMP, known_actions=("a", "b"))

    assert reply["payload"]["knownActions"] == ["a", "b"]


def test_the_auth_acknowledgement_names_the_connections_user() -> None:
    reply = socket_outbound.authenticated("alice", timestamp_ms=STAMP)

    assert reply == {"type": "authenticated", "timestamp": STAMP, "payload": {"userId": "alice"}}


def test_a_failed_task_without_a_recorded_error_still_carries_one_without_details() -> None:
    payload = _message(_task(TaskStatus.FAILED, error=None))["payload"]

    assert payload["error"] == {"code": "INTERNAL", "message": "The task failed because of an internal error"}


def test_every_message_type_has_one_model_and_the_builders_refuse_what_their_model_refuses() -> None:
    assert {model.KIND for model in socket_outbound.SERVER_MESSAGES} == set(socket_outbound.MessageType)
    with pytest.raises(ValueError, match="progress"):
        _message(_task(TaskStatus.PROCESSING, progress=101))
    with pytest.raises(ValueError, match="status"):
        socket_outbound.TaskCompleted.build(
            {**_message(_task(TaskStatus.CANCELLED))["payload"], "result": {"videoUrl": None}}, timestamp_ms=STAMP
        )


def test_contract_message_types_are_exactly_the_designed_ones() -> None:
    assert {kind.value for kind in socket_outbound.TASK_MESSAGE_TYPES.values()} == CONTRACT_TYPES


# which changes are news ---------------------------------------------------------------------------
def test_a_new_task_is_news() -> None:
    assert socket_outbound.is_worth_sending(None, _task(TaskStatus.QUEUED))


def test_a_deleted_task_is_not() -> None:
    assert not socket_outbound.is_worth_sending(_task(), None)


def test_a_status_change_is_news() -> None:
    queued = _task(TaskStatus.QUEUED)

    assert socket_outbound.is_worth_sending(queued, queued.model_copy(update={"status": TaskStatus.PROCESSING}))


def test_progress_moving_while_running_is_news() -> None:
    running = _task(progress=40)

    assert socket_outbound.is_worth_sending(running, running.model_copy(update={"progress": 55}))


def test_the_provider_id_becoming_known_is_news() -> None:
    running = _task(externalTaskId=None)

    assert socket_outbound.is_worth_sending(running, running.model_copy(update={"externalTaskId": "video_ext_9"}))


@pytest.mark.parametrize(
    "bookkeeping",
    [
        {"pollAttempts": 7, "updatedAt": "2026-01-01T00:00:09.000Z"},
        {"executionArn": "arn:aws:states:us-east-1:1:execution:m:x"},
        {"providerStatus": "processing"},
    ],
)
def test_bookkeeping_writes_are_not_news(bookkeeping: dict[str, Any]) -> None:
    running = _task(progress=40)

    assert not socket_outbound.is_worth_sending(running, running.model_copy(update=bookkeeping))


@pytest.mark.parametrize("terminal", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_nothing_after_a_terminal_state_is_news_so_there_is_one_terminal_message(terminal: TaskStatus) -> None:
    ended = _task(terminal, progress=100)

    assert socket_outbound.is_worth_sending(_task(progress=90), ended)
    assert not socket_outbound.is_worth_sending(ended, ended.model_copy(update={"progress": 100, "pollAttempts": 3}))
    assert not socket_outbound.is_worth_sending(ended, ended.model_copy(update={"metadata": {"mediaBytes": 10}}))
