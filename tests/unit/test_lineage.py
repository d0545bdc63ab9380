"""The rules of retry, remix and delete (videotasks.domain.lineage), and the taskDeleted message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

from videotasks.domain import socket_outbound
from videotasks.domain.errors import ConflictError, ValidationError
from videotasks.domain.lineage import (
    RemixTaskRequest,
    RetryTaskRequest,
    check_deletable,
    check_remixable,
    check_retryable,
    remix_request,
    retry_request,
)
from videotasks.domain.models import Task, TaskStatus, TaskType
from videotasks.domain.requests import CreateTaskRequest
from videotasks.domain.wire import task_json

STAMP = "2026-11-25T16:09:12.164Z"


def stored(**fields) -> Task:
    values = {
        "videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc",
        "userId": "alice",
        "prompt": "a paper boat",
        "model": "sora_video2",
        "seconds": 10,
        "size": "720x1280",
        "createdAt": STAMP,
        "updatedAt": STAMP,
        **fields,
    }
    return Task(**values)


def test_a_retry_asks_for_every_create_field_the_task_stores_but_its_client_request_id():
    task = stored(
        status=TaskStatus.FAILED,
        inputReference="https://example.com/a.png",
        metadata={"scene": 7, "externalTaskId": "old copy", "createdAt": 1},
        clientRequestId="first",
        externalTaskId="ext",
    )

    request = retry_request(task)

    assert request == CreateTaskRequest(
        prompt="a paper boat",
        model="sora_video2",
        type=TaskType.VIDEO,
        seconds=10,
        size="720x1280",
        inputReference="https://example.com/a.png",
        metadata={"scene": 7},
    )


def test_a_remix_asks_for_the_sources_model_seconds_and_size_with_the_new_prompt():
    assert remix_request(stored(status=TaskStatus.COMPLETED), "at night") == CreateTaskRequest(
        prompt="at night", model="sora_video2", seconds=10, size="720x1280"
    )


@pytest.mark.parametrize("status", list(TaskStatus))
def test_only_failed_or_cancelled_tasks_are_retried(status):
    task = stored(status=status)
    if status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        check_retryable(task)
        return
    with pytest.raises(ConflictError) as refused:
        check_retryable(task)
    assert status.value in refused.value.message


@pytest.mark.parametrize("status", list(TaskStatus))
def test_only_ended_tasks_are_deleted(status):
    task = stored(status=status)
    if task.is_terminal:
        check_deletable(task)
        return
    with pytest.raises(ConflictError) as refused:
        check_deletable(task)
    assert status.value in refused.value.message and "cancel" in refused.value.message


def test_a_remix_needs_a_completed_video_of_a_model_that_can_remix():
    done = stored(status=TaskStatus.COMPLETED, externalTaskId="ext")
    check_remixable(done, model_can_remix=True)
    with pytest.raises(ConflictError):
        check_remixable(stored(status=TaskStatus.PROCESSING, externalTaskId="ext"), model_can_remix=True)
    with pytest.raises(ValidationError) as refused:
        check_remixable(done, model_can_remix=False)
    assert "sora_video2" in refused.value.message
    with pytest.raises(ValidationError):
        check_remixable(done.model_copy(update={"type": TaskType.IMAGE}), model_can_remix=True)


def test_the_bodies_refuse_unknown_fields_and_a_remix_prompt_follows_the_create_rules():
    RetryTaskRequest.model_validate({})
    with pytest.raises(PydanticValidationError):
        RetryTaskRequest.model_validate({"prompt": "x"})
    assert RemixTaskRequest.model_validate({"prompt": "  at night "}).prompt == "at night"
    for bad in ({}, {"prompt": ""}, {"prompt": "x" * 4001}, {"prompt": "x", "model": "m"}):
        with pytest.raises(PydanticValidationError):
            RemixTaskRequest.model_validate(bad)


def test_lineage_is_on_the_wire_and_the_remix_source_is_not():
    task = stored(remixOf="video_source", remixSource="ext_source")

    body = task_json(task, video_url=None)

    assert (body["retryOf"], body["remixOf"]) == (None, "video_source")
    assert "remixSource" not in body


def test_task_deleted_carries_both_ids():
    message = socket_outbound.task_deleted(stored(externalTaskId="ext"), timestamp_ms=5)

    assert message == {
        "type": "taskDeleted",
        "timestamp": 5,
        "payload": {"videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc", "externalVideoId": "ext"},
    }
