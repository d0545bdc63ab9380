"""POST /api/video/tasks: what a created task looks like, what is stored and started, and every way a
request is refused with a 400 that names the field and writes nothing."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.integration.api_harness import BASE, USER, Api, executions, item_count
from videotasks.adapters.executions import Executions
from videotasks.domain.ids import VIDEO_ID_PATTERN
from videotasks.domain.requests import MAX_METADATA_BYTES

pytest_plugins = ["tests.integration.api_fixtures"]

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
INTERNAL_FIELDS = {"userId", "executionArn", "mediaKey", "mediaContentType", "pollAttempts"}


def _nothing_written(aws_stack) -> dict[str, int]:
    return {
        "tasks": item_count(aws_stack, "TASKS_TABLE"),
        "stats": item_count(aws_stack, "STATS_TABLE"),
        "idempotency": item_count(aws_stack, "IDEMPOTENCY_TABLE"),
        "executions": len(executions(aws_stack)),
    }


NOTHING = {"tasks": 0, "stats": 0, "idempotency": 0, "executions": 0}


def test_create_answers_201_with_a_queued_task_in_the_contract_shape(api: Api):
    reply = api.create(prompt="A lighthouse at dawn, slow pan")

    assert reply.status == 201, reply.body
    task = reply.data
    assert re.match(VIDEO_ID_PATTERN, task["videoId"])
    assert task["status"] == "QUEUED"
    assert task["progress"] == 0
    assert task["type"] == "VIDEO"
    assert task["prompt"] == "A lighthouse at dawn, slow pan"
    assert (task["model"], task["seconds"], task["size"]) == (
        "veo-3.1-fast",
        8,
        "1280x720",
    )  # the default model's defaults
    assert task["externalVideoId"] is None
    assert task["externalTaskId"] is None
    assert task["metadata"] == {"externalTaskId": None, "createdAt": created_seconds(task)}
    assert task["videoUrl"] is None
    assert task["error"] is None
    assert task["completedAt"] is None
    assert ISO_UTC.match(task["createdAt"]) and task["updatedAt"] == task["createdAt"]
    assert not INTERNAL_FIELDS & set(task), "internal fields leak to clients"


def test_create_stores_the_task_for_its_owner_counts_it_and_starts_one_execution_named_after_it(
    api: Api, aws_stack, counters
):
    video_id = api.create_id()

    stored = aws_stack.stored(video_id)
    assert stored["userId"] == USER
    assert stored["status"] == "QUEUED"
    started = executions(aws_stack)
    assert [execution["name"] for execution in started] == [video_id]
    assert stored["executionArn"] == started[0]["executionArn"]
    described = aws_stack.execution(video_id)
    # Providers that call back are told the address the request came in on (API Gateway sets domainName).
    webhooks = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/api/video/webhooks"
    assert json.loads(described["input"]) == {"videoId": video_id, "webhookBase": webhooks}
    assert counters() == {"total": 1, "queued": 1, "video_total": 1, "video_queued": 1}


def test_create_accepts_the_old_backends_field_names(api: Api):
    reply = api.create(
        prompt="old client",
        duration=8,
        aspectRatio="16:9",
        referenceImage="https://example.test/first-frame.png",
        mediaType="video",
    )

    assert reply.status == 201, reply.body
    task = reply.data
    assert (task["seconds"], task["size"], task["type"]) == (8, "1280x720", "VIDEO")
    assert task["inputReference"] == "https://example.test/first-frame.png"


def test_create_keeps_client_request_id_and_metadata_and_echoes_them(api: Api, aws_stack):
    reply = api.create(clientRequestId="ui-42", metadata={"project": "teaser", "take": 3})

    assert reply.status == 201, reply.body
    assert reply.data["clientRequestId"] == "ui-42"
    assert reply.data["metadata"] == {
        "project": "teaser",
        "take": 3,
        "externalTaskId": None,
        "createdAt": created_seconds(reply.data),
    }
    assert aws_stack.stored(reply.data["videoId"])["clientRequestId"] == "ui-42"


def test_image_task_gets_the_image_models_defaults_and_no_duration(api: Api):
    reply = api.create(prompt="a red fox, studio light", type="IMAGE")

    assert reply.status == 201, reply.body
    task = reply.data
    assert (task["type"], task["model"], task["seconds"], task["size"]) == ("IMAGE", "gpt-image-1", None, "1024x1024")


def test_a_body_sent_without_a_json_content_type_is_still_read_as_json(api: Api):
    event = api.event("POST", f"{BASE}/tasks", body='{"prompt":"curl -d"}', headers={"content-type": "text/plain"})

    reply = api.send(event)

    assert reply["statusCode"] == 201, reply["body"]


# -- refusals: a 400 that names the field, and nothing written anywhere ---------------------------------

TOO_BIG_METADATA = {"notes": "x" * MAX_METADATA_BYTES}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param('{"prompt": "unterminated', "body", id="bad-json"),
        pytest.param("[1, 2]", "body", id="json-array"),
        pytest.param({}, "prompt", id="missing-prompt"),
        pytest.param({"prompt": ""}, "prompt", id="empty-prompt"),
        pytest.param({"prompt": "   "}, "prompt", id="blank-prompt"),
        pytest.param({"prompt": "x" * 4001}, "prompt", id="prompt-too-long"),
        pytest.param({"prompt": 123}, "prompt", id="prompt-not-a-string"),
        pytest.param({"prompt": "x", "colour": "red"}, "colour", id="unknown-field"),
        pytest.param({"prompt": "x", "seconds": "eight"}, "seconds", id="seconds-not-a-number"),
        pytest.param({"prompt": "x", "seconds": 0}, "seconds", id="seconds-zero"),
        pytest.param({"prompt": "x", "seconds": 5}, "seconds", id="seconds-not-allowed-for-model"),
        pytest.param({"prompt": "x", "model": "sora_video2", "seconds": 4}, "seconds", id="seconds-of-another-model"),
        pytest.param({"prompt": "x", "size": "1024x1024"}, "size", id="size-not-allowed-for-model"),
        pytest.param({"prompt": "x", "size": 1280}, "size", id="size-not-a-string"),
        pytest.param({"prompt": "x", "model": "sora-9"}, "model", id="unknown-model"),
        pytest.param({"prompt": "x", "model": "gpt-image-1"}, "model", id="image-model-for-a-video"),
        pytest.param({"prompt": "x", "type": "AUDIO"}, "type", id="unknown-type"),
        pytest.param({"prompt": "x", "metadata": "notes"}, "metadata", id="metadata-not-an-object"),
        pytest.param({"prompt": "x", "metadata": TOO_BIG_METADATA}, "metadata", id="metadata-too-big"),
        pytest.param({"prompt": "x", "metadata": {"externalTaskId": "x"}}, "metadata", id="metadata-reserved-key"),
        pytest.param({"prompt": "x", "metadata": {"createdAt": 1}}, "metadata", id="metadata-reserved-time"),
        pytest.param({"prompt": "x", "clientRequestId": "has spaces"}, "clientRequestId", id="bad-client-request-id"),
        pytest.param({"prompt": "x", "aspectRatio": "4:3"}, "aspectRatio", id="unknown-aspect-ratio"),
        pytest.param({"prompt": "x", "duration": 8, "seconds": 8}, "duration", id="alias-and-name-together"),
        pytest.param({"prompt": "x", "inputReference": "x" * 2049}, "inputReference", id="reference-too-long"),
        pytest.param({"prompt": "x", "inputReference": "http://a.test/x.png"}, "inputReference", id="reference-http"),
        pytest.param({"prompt": "x", "referenceImage": "http://a.test/x.png"}, "referenceImage", id="alias-http"),
        pytest.param(
            {"prompt": "x", "inputReference": "data:image/svg+xml;base64,PHN2Zz4="},
            "inputReference",
            id="reference-svg",
        ),
    ],
)
def test_invalid_create_is_a_400_naming_the_field_and_writes_nothing(api: Api, aws_stack, body, field):
    reply = api.call("POST", f"{BASE}/tasks", body=body)

    reply.validation_error(field)
    assert _nothing_written(aws_stack) == NOTHING


def test_invalid_field_is_named_in_the_error_details_too(api: Api):
    reply = api.create(seconds=5)

    reply.validation_error("seconds")
    assert reply.fields() == ["seconds"]


def test_malformed_idempotency_key_is_a_400_naming_the_header(api: Api, aws_stack):
    reply = api.create(key="not a valid key!")

    error = reply.error(400, "VALIDATION_ERROR")
    assert "idempotency-key" in reply.body["message"].lower(), error
    assert _nothing_written(aws_stack) == NOTHING


def test_refused_create_with_an_idempotency_key_leaves_the_key_free_for_a_valid_retry(api: Api, aws_stack):
    refused = api.create(key="retry-me", model="sora-9")
    refused.validation_error("model")
    assert _nothing_written(aws_stack) == NOTHING

    retried = api.create(key="retry-me")

    assert retried.status == 201, retried.body
    assert item_count(aws_stack, "TASKS_TABLE") == 1


def test_create_whose_execution_cannot_start_is_a_500_and_the_task_ends_failed(
    api: Api, aws_stack, monkeypatch, counters
):
    def refuse(self, video_id):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "arn:aws:iam::123:role/x"}}, "Start")

    monkeypatch.setattr(Executions, "start", refuse)

    reply = api.create()

    reply.error(500, "INTERNAL")
    assert "arn:aws" not in json.dumps(reply.body)
    [stored] = aws_stack.table("TASKS_TABLE").scan()["Items"]
    assert stored["status"] == "FAILED"
    assert stored["error"]["code"] == "INTERNAL"
    assert counters() == {"total": 1, "failed": 1, "video_total": 1, "video_failed": 1}


def _json_log_lines(stream: io.StringIO, message: str) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == message]


def test_the_created_log_line_carries_the_new_tasks_ids_not_the_previous_requests(api: Api, steps, monkeypatch):
    earlier = api.create_id()
    steps.submit(earlier)
    api.cancel(earlier)  # logs with videoId and externalVideoId of the earlier task
    [handler] = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"]).handlers  # what Powertools writes through
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)

    video_id = api.create_id()

    [line] = _json_log_lines(stream, "task created")
    assert line["videoId"] == video_id
    assert line.get("externalVideoId") is None, line


def test_metadata_with_fractional_numbers_is_kept_as_sent(api: Api):
    reply = api.create(metadata={"ratio": 1.5, "scores": [0.25, 2]})

    assert reply.status == 201, reply.body
    stored = api.get(reply.data["videoId"]).data["metadata"]
    assert stored == {
        "ratio": 1.5,
        "scores": [0.25, 2],
        "externalTaskId": None,
        "createdAt": created_seconds(reply.data),
    }


def test_metadata_with_an_empty_key_is_refused_or_kept_listable(api: Api):
    reply = api.create(metadata={"": "no name"})

    if reply.status == 400:
        reply.validation_error("metadata")
    else:
        assert reply.status == 201, reply.body
        assert api.list().status == 200
        assert api.get(reply.data["videoId"]).status == 200


def created_seconds(task: dict) -> int:
    """The task's ``createdAt`` as the Unix seconds ``metadata.createdAt`` carries (the old dual-id document)."""
    return int(datetime.fromisoformat(task["createdAt"].replace("Z", "+00:00")).timestamp())
